"""The notify service: the right message to the right person, in-app and by email."""
