from ilrflow.web.adapters.session import SessionCodec
from ilrflow.web.domain.session import Session, SignedIn

USER = SignedIn(token="t", sub="admin-1", name="Ada", tenant="demo", roles=["admin"])


def test_a_session_survives_the_cookie() -> None:
    codec = SessionCodec("secret")
    session = Session(user=USER)
    assert codec.loads(codec.dumps(session)) == session


def test_a_forged_or_foreign_cookie_gives_a_fresh_session() -> None:
    cookie = SessionCodec("another secret").dumps(Session(user=USER))
    loaded = SessionCodec("secret").loads(cookie)
    assert loaded.user is None
    assert SessionCodec("secret").loads("garbage").user is None


def test_the_csrf_token_must_match_exactly() -> None:
    session = Session()
    assert session.csrf_matches(session.csrf)
    assert not session.csrf_matches("")
    assert Session().csrf != session.csrf
