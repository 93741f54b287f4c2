"""Print what the role needs to know about an edgepack Raspberry Pi package, as one JSON object.

Runs on the Ansible controller with the controller's own python (``ansible_playbook_python``):
standard library only, so the role works without edgepack installed. One streaming pass over
the .tar.gz: the archive's sha256 (re-checked on the device after the copy), its top directory,
package.env and the version id install.sh will give it (``<version>-<sha256(SHA256SUMS)[:12]>``).
"""

import hashlib
import json
import os
import re
import sys
import tarfile


class _Hashing:
    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def read(self, n=-1):
        data = self.f.read(n)
        self.h.update(data)
        self.n += len(data)
        return data


def main(path):
    if not os.path.isfile(path):
        sys.exit("%s: no such package file (give the .tar.gz made by `edgepack build PROJECT --target rpi`)" % path)
    top = env = sums = None
    with open(path, "rb") as raw:
        reader = _Hashing(raw)
        try:
            with tarfile.open(fileobj=reader, mode="r|gz") as tar:
                for m in tar:
                    parts = m.name.split("/")
                    top = top or parts[0]
                    rel = "/".join(parts[1:])
                    if m.isreg() and rel in ("package.env", "SHA256SUMS") and m.size < (4 << 20):
                        data = tar.extractfile(m).read()
                        if rel == "package.env":
                            env = data.decode("utf-8", "replace")
                        else:
                            sums = data
            while reader.read(1 << 20):
                pass
        except (tarfile.TarError, EOFError, OSError) as exc:
            sys.exit("%s: not a readable .tar.gz (%s)" % (path, exc))
    if env is None or sums is None:
        sys.exit("%s: not an edgepack Raspberry Pi package (no package.env or SHA256SUMS in %s/)" % (path, top))
    values = dict(re.findall(r"^(EDGEPACK_[A-Z_]+)='([^']*)'$", env, re.M))
    version = values.get("EDGEPACK_VERSION", "")
    print(json.dumps({
        "file": os.path.basename(path),
        "sha256": reader.h.hexdigest(),
        "bytes": reader.n,
        "top": top,
        "name": values.get("EDGEPACK_NAME", ""),
        "version": version,
        "precision": values.get("EDGEPACK_PRECISION", ""),
        "port": values.get("EDGEPACK_DEFAULT_PORT", ""),
        "version_id": "%s-%s" % (version, hashlib.sha256(sums).hexdigest()[:12]),
    }))


if __name__ == "__main__":
    main(sys.argv[1])
