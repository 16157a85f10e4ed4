"""Quote API: the lesson 02 exercise app. Listens on port 8000; /health and /quote."""
import os
import random

from flask import Flask

from quotes import QUOTES

app = Flask(__name__)


@app.get("/health")
def health():
    return {"status": "ok"}


@app.get("/quote")
def quote():
    text, author = random.choice(QUOTES)
    return {"quote": text, "author": author}


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "8000")))
