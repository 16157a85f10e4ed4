"""Fetch the licensed exchange-rate table from the vendor's feed (simulated): it needs the licence key.

Like many vendor command-line tools it takes the key from one environment variable, FX_FEED_KEY, and from nowhere
else (no file option). The feed is vendored here encrypted with that key (feed/rates.enc): without the right key
there is no table. With it, the table is written to data/rates.json next to this script.
"""
import base64
import hashlib
import json
import os
import sys
from pathlib import Path

KEY_VARIABLE = "FX_FEED_KEY"
HERE = Path(__file__).resolve().parent
FEED = HERE / "feed" / "rates.enc"
OUT = HERE / "data" / "rates.json"


def keystream(key: str, n: int) -> bytes:
    out, block = bytearray(), 0
    while len(out) < n:
        out += hashlib.sha256(f"{key}:{block}".encode()).digest()
        block += 1
    return bytes(out[:n])


def decrypt(key: str, blob: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(blob, keystream(key, len(blob))))


def main() -> int:
    key = os.environ.get(KEY_VARIABLE, "").strip()
    if not key:
        print(f"fx feed: 401 Unauthorized: no licence key in ${KEY_VARIABLE} (this tool reads that environment "
              "variable, and nothing else)", file=sys.stderr)
        return 1
    sealed = json.loads(FEED.read_text())
    table = decrypt(key, base64.b64decode(sealed["data"]))
    if hashlib.sha256(table).hexdigest() != sealed["sha256"]:
        print("fx feed: 403 Forbidden: the licence key was refused", file=sys.stderr)
        return 1
    rates = json.loads(table)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(rates, indent=1) + "\n")
    print(f"fx feed: licence accepted, {len(rates['rates'])} rates (base {rates['base']}) written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
