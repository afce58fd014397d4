"""Run the audit service: ``ilrflow-audit`` (or ``python -m ilrflow.audit.main``)."""

from ilrflow.audit.bootstrap import SERVICE, create_app
from ilrflow.shared.service import serve
from ilrflow.shared.settings import get_settings


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings, SERVICE)


if __name__ == "__main__":
    main()
