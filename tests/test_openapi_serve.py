"""OpenAPI contracts served as stubs, end to end over real sockets: `--openapi`, a stub file's
`contract:` entry and the admin API load them; routes answer under the spec's base path and the
root; Prism's Prefer conventions and Microcks' example pairing pick the response; generated data
validates against the schema (checked by an independent validator) and is the same twice;
hand-written stubs, faults and the journal apply to contract routes; declared security is
reported or enforced; requests that break the contract get problem+json; a broken edit keeps the
previous contract serving."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from openapi_schema_validator import OAS30Validator, OAS31Validator

from conftest import ROOT, call, run_cli
from stuntman.openapi.document import load_spec

SPECS = ROOT / "tests" / "openapi" / "specs"
PETSTORES = {"2.0": ("petstore-2.0.json", "/v2"), "3.0": ("petstore-3.0.yaml", "/api/v1"),
             "3.1": ("petstore-3.1.yaml", "/api/v1")}


def get_json(port: int, path: str, headers: dict | None = None, method: str = "GET", body=None):
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        headers = {"Content-Type": "application/json", **(headers or {})}
    status, head, data = call(port, method, path, body=body, headers=headers)
    return status, head, (json.loads(data) if data else None)


def conforms(spec_file: Path, ref: str, value) -> list[str]:
    """What the independent validator (openapi-schema-validator) finds wrong with value against
    the schema at `ref` of the bundled spec; [] when it conforms."""
    spec = load_spec(spec_file)
    validator = (OAS31Validator if spec.dialect == "oas31" else OAS30Validator)(
        {"$ref": ref, **{k: v for k, v in spec.doc.items() if k != "$ref"}})
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)]


@pytest.fixture
def petstore(stuntman):
    def start(version: str = "3.0", files: dict | None = None, **settings):
        name, base = PETSTORES[version]
        return stuntman(files, openapi=(SPECS / name,), **settings), base
    return start


# -- where and what it serves -------------------------------------------------------------------

@pytest.mark.parametrize("version", list(PETSTORES))
def test_every_version_serves_its_examples_under_the_base_path_and_at_the_root(petstore, version):
    st, base = petstore(version)
    status, head, body = get_json(st.port, f"{base}/pets/1")
    assert (status, body) == (200, {"id": 1, "name": "Fluffy", "tag": "cat"})
    assert head["content-type"] == "application/json"
    assert get_json(st.port, "/pets/1")[2] == body  # the root too: nothing else is served there
    status, _, listing = get_json(st.port, f"{base}/pets")
    assert status == 200 and [p["name"] for p in listing] == ["Fluffy", "Rex"]
    assert call(st.port, "GET", f"{base}/nothing")[0] == 404


def test_server_variables_take_their_defaults(petstore):
    # servers: http://localhost:{port}/{basePath} with basePath defaulting to api/v1
    st, _ = petstore("3.0")
    assert call(st.port, "GET", "/api/v1/pets/1")[0] == 200
    assert call(st.port, "GET", "/{basePath}/pets/1")[0] == 404


def test_prefer_code_and_its_query_form_pick_the_declared_response(petstore):
    st, base = petstore()
    status, head, body = get_json(st.port, f"{base}/pets/1", {"Prefer": "code=404"})
    assert (status, body) == (404, {"code": 404, "message": "no pet with that id"})
    assert get_json(st.port, f"{base}/pets/1?__code=404")[:3:2] == (404, body)
    # a code the operation does not declare: a 404 problem saying what it declares (as Prism's)
    status, head, problem = get_json(st.port, f"{base}/pets/1", {"Prefer": "code=418"})
    assert status == 404 and head["content-type"] == "application/problem+json"
    assert "declares no response 418" in problem["detail"] and "200, 404" in problem["detail"]


def test_prefer_example_and_example_pairing_pick_the_named_example(petstore):
    st, base = petstore()
    rex = {"name": "Rex", "tag": "dog"}
    fluffy = {"name": "Fluffy", "tag": "cat"}
    status, _, body = get_json(st.port, f"{base}/pets", {"Prefer": "example=rex"}, "POST", fluffy)
    assert (status, body) == (201, {"id": 2, "name": "Rex", "tag": "dog"})  # the Prefer wins (a $ref'd example)
    # no Prefer: the request equals the named request example "rex": the response example "rex"
    assert get_json(st.port, f"{base}/pets", method="POST", body=rex)[2] == {"id": 2, "name": "Rex", "tag": "dog"}
    assert get_json(st.port, f"{base}/pets", method="POST", body=fluffy)[2]["name"] == "Fluffy"
    # a body equal to no named example: the first example of the success response
    assert get_json(st.port, f"{base}/pets", method="POST", body={"name": "Tom"})[0] == 201
    status, _, problem = get_json(st.port, f"{base}/pets?__example=nope", method="POST", body=rex)
    assert status == 404 and "no example 'nope'" in problem["detail"]


def test_dynamic_data_is_generated_from_the_schema_and_conforms(petstore):
    st, base = petstore()
    spec = SPECS / "petstore-3.0.yaml"
    seen = set()
    for _ in range(5):
        status, _, pets = get_json(st.port, f"{base}/pets", {"Prefer": "dynamic=true"})
        assert status == 200
        assert conforms(spec, "#/components/schemas/Pets", pets) == []
        seen.add(json.dumps(pets))
    assert len(seen) > 1  # fresh data each time


def test_generated_data_is_the_same_for_the_same_path_and_echoes_the_path_parameter(stuntman, tmp_path):
    spec = write_spec(tmp_path, """
        openapi: 3.0.3
        info: {title: Users, version: "1"}
        paths:
          /users/{id}:
            get:
              parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
              responses:
                "200":
                  description: a user
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [id, name, email, joined]
                        properties:
                          id: {type: integer}
                          name: {type: string, minLength: 2}
                          email: {type: string, format: email}
                          joined: {type: string, format: date-time}
        """)
    st = stuntman(openapi=(spec,))
    first = get_json(st.port, "/users/42")[2]
    assert first == get_json(st.port, "/users/42")[2]  # deterministic per method and path
    assert first["id"] == 42  # the path parameter, echoed into the field of the same name
    assert get_json(st.port, "/users/7")[2]["id"] == 7
    assert conforms(spec, "#/paths/~1users~1{id}/get/responses/200/content/application~1json/schema", first) == []
    # another server with the same spec and seed gives the same data: it does not depend on the process
    assert get_json(stuntman(openapi=(spec,)).port, "/users/42")[2] == first


def write_spec(directory: Path, text: str, name: str = "spec.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


# -- what applies to contract routes -----------------------------------------------------------

def test_a_hand_written_stub_overrides_the_contract_and_the_rest_still_comes_from_it(petstore):
    base = "/api/v1"
    st, _ = petstore(files={"pinned.yaml": f"""
        request: {{method: GET, path: {base}/pets/7}}
        response: {{status: 200, json: {{id: 7, name: Pinned}}}}
        """})
    assert get_json(st.port, f"{base}/pets/7")[2] == {"id": 7, "name": "Pinned"}
    assert get_json(st.port, f"{base}/pets/8")[2]["name"] == "Fluffy"


def test_faults_and_the_journal_apply_to_contract_routes(petstore):
    base = "/api/v1"
    st, _ = petstore(files={"faults.yaml": f"""
        faults:
          - type: error
            status: 503
            request: {{method: GET, path: {base}/pets/1}}
        """})
    assert call(st.port, "GET", f"{base}/pets/1")[0] == 503
    assert call(st.port, "GET", f"{base}/pets/2")[0] == 200
    entries = list(st.server.journal.entries)
    stubs = [e.route.name for e in entries if e.route is not None]
    assert stubs == ["showPetById", "showPetById"]


def test_declared_security_is_reported_not_enforced_unless_asked(petstore):
    st, base = petstore()
    status, head, _ = call(st.port, "DELETE", f"{base}/pets/1")
    assert status == 204 and head["x-stuntman-security"] == "unmet: api_key"
    status, head, _ = call(st.port, "DELETE", f"{base}/pets/1", headers={"X-API-Key": "k"})
    assert status == 204 and "x-stuntman-security" not in head
    enforced, _ = petstore(enforce_security=True)
    status, head, body = call(enforced.port, "DELETE", f"{base}/pets/1")
    assert status == 401 and head["content-type"] == "application/problem+json"
    assert "api_key" in json.loads(body)["detail"]
    assert call(enforced.port, "DELETE", f"{base}/pets/1", headers={"X-API-Key": "k"})[0] == 204


# -- request validation ------------------------------------------------------------------------

def test_a_request_that_breaks_the_contract_gets_problem_json_listing_every_violation(petstore):
    st, base = petstore()
    status, head, problem = get_json(st.port, f"{base}/pets?limit=0")
    assert status == 400 and head["content-type"] == "application/problem+json"
    assert [e["location"] for e in problem["errors"]] == ["query.limit"]
    status, _, problem = get_json(st.port, f"{base}/pets", method="POST", body={"name": "", "tag": 5})
    assert status == 400
    assert {e["pointer"] for e in problem["errors"]} >= {"/name", "/tag"}
    status, _, _ = call(st.port, "POST", f"{base}/pets", body=b"name=x",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415
    assert get_json(st.port, f"{base}/pets?limit=5")[0] == 200


def test_no_validate_serves_what_the_contract_would_reject(petstore):
    st, base = petstore(openapi_validate=False)
    assert get_json(st.port, f"{base}/pets?limit=0")[0] == 200


# -- loading: stub files, the admin API, errors, reload ----------------------------------------

def test_a_stub_file_entry_serves_a_spec_under_its_base_path(stuntman, tmp_path):
    spec = (SPECS / "petstore-3.0.yaml").read_text()
    st = stuntman({"specs/pets.yaml": spec, "contracts.yaml": """
        - contract: {openapi: specs/pets.yaml, basePath: /shop, name: pets}
        """})
    assert get_json(st.port, "/shop/pets/1")[2]["name"] == "Fluffy"
    assert call(st.port, "GET", "/api/v1/pets/1")[0] == 404  # basePath replaces the servers' prefix
    [contract] = st.server.table.contracts
    assert contract.name == "pets" and len(contract.spec.operations) == 4


def test_a_multi_file_spec_inside_the_stubs_directory_is_not_read_as_stubs(stuntman):
    files = {f"rich/{p.relative_to(SPECS / 'rich-3.0')}": p.read_text()
             for p in (SPECS / "rich-3.0").rglob("*.yaml")}
    st = stuntman({**files, "contracts.yaml": "contract: {openapi: rich/openapi.yaml}"})
    [contract] = st.server.table.contracts
    assert contract.spec.files  # it did read other files
    assert st.server.config_errors == []


def test_the_admin_api_lists_creates_and_deletes_contracts(petstore):
    import urllib.request

    st, base = petstore(admin_port=0)

    def admin(method: str, path: str, body=None):
        request = urllib.request.Request(st.admin_url + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    status, listing = admin("GET", "/__admin/contracts")
    assert status == 200 and listing["meta"]["total"] == 1
    [pets] = listing["contracts"]
    assert pets["version"] == "3.0.3" and pets["origin"] == "file"
    show = next(op for op in pets["operations"] if op["operationId"] == "showPetById")
    assert show["servedAt"] == ["/api/v1/pets/{petId}", "/pets/{petId}"]
    inline = {"openapi": "3.1.0", "info": {"title": "Clock", "version": "1"},
              "paths": {"/time": {"get": {"responses": {"200": {"description": "now", "content": {
                  "application/json": {"example": {"now": "12:00"}}}}}}}}}
    status, created = admin("POST", "/__admin/contracts", {"spec": inline, "basePath": "/clock"})
    assert status == 201 and created["name"] == "Clock" and created["origin"] == "api"
    assert get_json(st.port, "/clock/time")[2] == {"now": "12:00"}
    assert admin("DELETE", f"/__admin/contracts/{pets['id']}")[0] == 409  # a file's: edit the file
    assert admin("DELETE", f"/__admin/contracts/{created['id']}")[0] == 200
    assert call(st.port, "GET", "/clock/time")[0] == 404
    status, error = admin("POST", "/__admin/contracts", {"spec": {"openapi": "3.0.0", "info": {}, "paths": {
        "/a": {"get": {"responses": {"200": {"$ref": "#/components/responses/Nope"}}}}}}})
    assert status == 400 and "points at nothing" in json.dumps(error)


def test_a_broken_spec_names_file_and_pointer_and_nothing_starts():
    result = run_cli("run", "--port", "0", "--admin-port", "0", "--stubs", "stubs",
                     "--openapi", str(SPECS / "broken" / "dangling-ref.yaml"))
    assert result.returncode == 2
    assert "dangling-ref.yaml" in result.stderr and "#/" in result.stderr and "not started" in result.stderr


def test_a_broken_edit_keeps_the_previous_contract_serving_and_is_listed(stuntman, tmp_path):
    spec_text = (SPECS / "petstore-3.0.yaml").read_text()
    st = stuntman({"pets.yaml": spec_text, "c.yaml": "contract: {openapi: pets.yaml}"}, admin_port=0)
    assert get_json(st.port, "/api/v1/pets/1")[2]["name"] == "Fluffy"
    (st.stubs / "pets.yaml").write_text(spec_text.replace("name: Fluffy\n                tag: cat",
                                                           "name: Felix\n                tag: cat", 1))
    st.reload()
    assert get_json(st.port, "/api/v1/pets/1")[2]["name"] == "Felix"
    (st.stubs / "pets.yaml").write_text(spec_text.replace("#/components/schemas/Pet\"", "#/components/schemas/Nope\""))
    assert st.server.reload("test") is False
    assert get_json(st.port, "/api/v1/pets/1")[2]["name"] == "Felix"
    errors = [str(e) for e in st.server.config_errors]
    assert any("pets.yaml" in e and "points at nothing" in e for e in errors)


def test_a_webhook_only_spec_loads_with_a_note_and_serves_nothing(stuntman):
    st = stuntman(openapi=(SPECS / "webhooks-only-3.1.yaml",))
    [contract] = st.server.table.contracts
    assert contract.routes == [] and any("webhook" in note for note in contract.spec.notes)


# -- import ------------------------------------------------------------------------------------

def test_import_writes_stub_files_that_answer_as_the_contract_does(stuntman, tmp_path):
    out = tmp_path / "imported"
    result = run_cli("import", "openapi", str(SPECS / "petstore-3.0.yaml"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "4 operation(s)" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["createPet.yaml", "deletePet.yaml", "listPets.yaml",
                                                     "showPetById.yaml"]
    contract = stuntman(openapi=(SPECS / "petstore-3.0.yaml",), openapi_validate=False)
    files = stuntman({p.name: p.read_text() for p in out.iterdir()})
    for path, headers in (("/api/v1/pets/1", {}), ("/api/v1/pets/1", {"Prefer": "code=404"}),
                          ("/api/v1/pets", {})):
        assert get_json(files.port, path, headers)[::2] == get_json(contract.port, path, headers)[::2]
    # a second import into the same directory asks before replacing
    again = run_cli("import", "openapi", str(SPECS / "petstore-3.0.yaml"), "--out", str(out))
    assert again.returncode == 2 and "--overwrite" in again.stderr


def test_a_spec_in_the_stubs_directory_cannot_read_files_outside_it(stuntman, tmp_path):
    (tmp_path / "secret.yaml").write_text("Secret: {type: string}\n")
    spec = textwrap.dedent("""
        openapi: 3.0.3
        info: {title: Escape, version: "1"}
        paths:
          /x:
            get:
              responses:
                "200": {description: x, content: {application/json: {schema: {$ref: "../secret.yaml#/Secret"}}}}
        """)
    with pytest.raises(Exception) as raised:
        stuntman({"spec.yaml": spec, "c.yaml": "contract: {openapi: spec.yaml}"})
    assert "reaches outside the stubs directory" in str(raised.value)


def test_an_operation_whose_path_cannot_be_a_route_is_left_out_with_a_note(stuntman, tmp_path):
    """A query string in a path key (flickr's `/rest?method=...`) or a parameter named twice is not
    a path a route can take: that operation is not served, the rest of the contract is."""
    spec = tmp_path / "odd.yaml"
    spec.write_text(textwrap.dedent("""\
        openapi: 3.0.3
        info: {title: odd, version: "1"}
        paths:
          /rest?method=photos.search:
            get: {responses: {"200": {description: ok, content: {application/json: {example: {a: 1}}}}}}
          /regions/{location}/sub/{location}:
            get: {responses: {"200": {description: ok}}}
          /fine:
            get: {responses: {"200": {description: ok, content: {application/json: {example: {ok: true}}}}}}
        """))
    st = stuntman(openapi=(spec,))
    assert get_json(st.port, "/fine")[::2] == (200, {"ok": True})
    [contract] = st.server.table.contracts
    notes = [n for n in contract.spec.notes if "is not served" in n]
    assert len(notes) == 2 and "GET /rest?method=photos.search" in notes[0] and "#/paths/" in notes[0]
    assert "GET /regions/{location}/sub/{location}" in notes[1]


def test_answers_kept_by_path_and_accept_stay_right_for_each(petstore):
    """Plain GETs are answered from (path, Accept) after the first: each path keeps its own answer
    (a bad parameter's 400 too), Accept still negotiates, and Prefer or a query still choose."""
    st, base = petstore()
    for _ in range(2):
        assert get_json(st.port, f"{base}/pets/abc")[0] == 400
        assert get_json(st.port, f"{base}/pets/1")[::2] == (200, {"id": 1, "name": "Fluffy", "tag": "cat"})
        assert call(st.port, "GET", f"{base}/pets/1", headers={"Accept": "application/xml"})[0] == 406
        assert get_json(st.port, f"{base}/pets/1", {"Prefer": "code=404"})[0] == 404
        assert get_json(st.port, f"{base}/pets/1?__code=404")[0] == 404
    dynamic = [get_json(st.port, f"{base}/pets/7", {"Prefer": "dynamic=true"})[2] for _ in range(3)]
    assert len({json.dumps(d) for d in dynamic}) > 1  # not kept: fresh each time
