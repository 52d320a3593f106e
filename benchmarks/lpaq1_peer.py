"""lpaq1, the context mixer of 2007 that issue 22 measures lstmzip against: a binary built outside
this repository (none of its code is here), run on a file with its strongest setting."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path


def lpaq1_bytes(binary: Path, src: Path) -> int:
    """The size of `lpaq1 9`'s archive of src (its header included), its round trip verified."""
    with tempfile.TemporaryDirectory() as tmp:
        packed, back = Path(tmp) / "x.lpq", Path(tmp) / "x"
        subprocess.run([str(binary), "9", str(src), str(packed)], check=True, capture_output=True)
        subprocess.run([str(binary), "d", str(packed), str(back)], check=True, capture_output=True)
        if back.read_bytes() != src.read_bytes():
            raise SystemExit(f"lpaq1 round trip FAILED on {src}")
        return packed.stat().st_size
