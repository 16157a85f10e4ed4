QUOTES = [
    ("Simple is better than complex.", "The Zen of Python"),
    ("Readability counts.", "The Zen of Python"),
    ("It works on my machine.", "Every developer, before containers"),
    ("Errors should never pass silently.", "The Zen of Python"),
]
