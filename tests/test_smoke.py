import http.client
import json


def test_stub_and_proxy(stuntman, upstream):
    st = stuntman({"a.yaml": """
        - name: hello
          request: {method: GET, path: /hello}
          response: {json: {hi: there}}
    """}, upstream=upstream.url)
    c = http.client.HTTPConnection("127.0.0.1", st.port)
    c.request("GET", "/hello")
    r = c.getresponse()
    assert r.status == 200 and json.loads(r.read()) == {"hi": "there"}
    c.request("GET", "/other?x=1")
    r = c.getresponse()
    assert r.status == 200 and json.loads(r.read())["path"] == "/other?x=1"
