"""Generated input on every Q&A endpoint never gets a 5xx, and errors are problem+json."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

VALUES = st.one_of(st.text(max_size=250), st.integers(min_value=-(2**70), max_value=2**70), st.none(), st.booleans(),
                   st.sampled_from(["CS-GJJ-0004", "公积金租房提取", "portal", "\x00"]))
BODIES = st.dictionaries(
    st.sampled_from(["question", "channel", "limit", "token", "item_code", "answer", "helpful", "clicked_item_code"]),
    VALUES, max_size=5)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(body=BODIES, path_id=st.integers(min_value=-5, max_value=2**64))
def test_generated_input_never_breaks_the_server(client, auth, body, path_id):
    headers = auth("admin")
    calls = [
        ("post", "/api/v1/qa/ask", {}),
        ("post", f"/api/v1/qa/questions/{path_id}/feedback", {}),
        ("post", "/api/v1/qa/faq", headers),
        ("patch", f"/api/v1/qa/faq/{path_id}", headers),
    ]
    for method, url, extra in calls:
        response = getattr(client, method)(url, json=body, headers=extra)
        assert response.status_code < 500, (url, body, response.text)
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json")
    listed = client.get("/api/v1/qa/faq", params={k: str(v) for k, v in body.items() if k in ("item_code",)})
    assert listed.status_code < 500
