"""One router per resource; ``search_api.app`` includes each of them explicitly."""
