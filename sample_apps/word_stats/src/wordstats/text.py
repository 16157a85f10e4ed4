"""Counting words: the part of the service that changes most often."""
import re
from collections import Counter

WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def stats(text: str, top: int = 5) -> dict:
    found = words(text)
    return {"words": len(found), "distinct": len(set(found)), "top": Counter(found).most_common(top)}
