"""Train this zoo sample deterministically (seconds) and write tokenizer.json + model.safetensors.

The loop is the zoo's shared trainer (../zoo_train.py) on the seed's corpus (../sentiment), so the
zoo's architectures are compared on the same data. Run: python train.py (prints held-out accuracy)
"""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
from model import GRUClassifier  # noqa: E402
from zoo_train import train  # noqa: E402

if __name__ == "__main__":
    train(HERE, GRUClassifier, epochs=4, lr=1e-2, min_accuracy=0.85)
