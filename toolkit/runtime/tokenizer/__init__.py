"""edgepack's tokenizer: a documented subset of Hugging Face ``tokenizer.json`` in pure Python.

Standard library only (runs on a Raspberry Pi and under Pyodide). The JavaScript twin is
``web/src/tokenizer.mjs``; both are held to golden files made by Hugging Face ``tokenizers``.
See SPEC.md in this folder.
"""

from edgepack.errors import TokenizerSpecError
from edgepack.runtime.tokenizer.encoding import Encoding
from edgepack.runtime.tokenizer.tokenizer import SUPPORTED_VERSIONS, Tokenizer

__all__ = ["Encoding", "Tokenizer", "TokenizerSpecError", "SUPPORTED_VERSIONS"]
