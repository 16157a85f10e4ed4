"""A dice roller for the lesson 12 exercise: GET /roll?n=3 rolls three dice, GET /health says it is up.

The number of sides comes from $DICE_SIDES, which the image's entrypoint script sets (6 unless given).
"""
import os
import secrets

from flask import Flask, request

SIDES = int(os.environ["DICE_SIDES"])  # set by the entrypoint script: the app refuses to guess
app = Flask(__name__)


@app.get("/health")
def health():
    return {"status": "ok", "sides": SIDES}


@app.get("/roll")
def roll():
    n = max(1, min(int(request.args.get("n", "1")), 100))
    return {"sides": SIDES, "dice": [secrets.randbelow(SIDES) + 1 for _ in range(n)]}
