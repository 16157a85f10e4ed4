"""Lesson 14, the supply chain: SBOMs, vulnerability scans, provenance, signatures, platforms, image stores."""
