"""Serve directory.ldif from a throwaway OpenLDAP on ldap://127.0.0.1:3389, until Ctrl-C.

Needs OpenLDAP's programs (Debian: apt-get install slapd ldap-utils) and the `slapd`
package from PyPI (pip install slapd), which runs them with a configuration of its own in
a temporary folder. Nothing is installed as a service and nothing is left behind.

    python examples/ldap/serve.py [PORT]
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TMP", tempfile.gettempdir())  # where slapd keeps its data, not here

import slapd  # after TMP is set: it reads TMP when imported

HERE = Path(__file__).resolve().parent
SCHEMAS = ("core.ldif", "cosine.ldif", "inetorgperson.ldif")


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 3389
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with &
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop slapd on kill too
    server = slapd.Slapd(suffix="dc=example,dc=org", schemas=SCHEMAS, host="127.0.0.1", port=port)
    server.start()
    try:
        server.ldapadd((HERE / "directory.ldif").read_text(encoding="utf-8"))
        print(f"serving {HERE / 'directory.ldif'} on ldap://127.0.0.1:{port} (Ctrl-C stops)")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
