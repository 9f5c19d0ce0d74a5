"""The upstream source (`proxy:` on a stub, and `--upstream`): forward an exchange to a real
service, streaming both ways.

- `pool`: keep-alive connections per origin, TLS;
- `errors`: why an upstream gave no usable response (`UpstreamError`: status, cause, detail);
- `target`: the forwarding policy of one `proxy:` (which origin, Host, X-Forwarded-*, prefixes);
- `client`: one HTTP/1.1 connection to an upstream (llhttp's response parser);
- `call`: one exchange forwarded, joining the client's Downstream to an upstream connection.
"""
