"""Run the learner service: ``ilrflow-learner`` (or ``python -m ilrflow.learner.main``)."""

from ilrflow.learner.bootstrap import SERVICE, create_app
from ilrflow.platform.service import serve
from ilrflow.platform.settings import get_settings


def main() -> None:
    settings = get_settings()
    serve(lambda: create_app(settings), settings, SERVICE)


if __name__ == "__main__":
    main()
