"""Loading OpenAPI documents (stuntman.openapi.document): the corpus in tests/openapi/specs in every
version and shape, what the loader makes of it (version, dialect, operations with their merged
parameters, base paths, one bundled tree with internal $refs, Swagger 2.0 in 3.0 shape), the
errors a broken spec gets (file, pointer or line, cause), and a 4 MB spec generated from a template."""
from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest

from stuntman.openapi.document import FILES, Spec, SpecError, load_spec, walk_pointer

ROOT = Path(__file__).resolve().parent.parent
SPECS = Path(__file__).resolve().parent / "openapi" / "specs"
BROKEN = SPECS / "broken"


def load(name: str) -> Spec:
    return load_spec(SPECS / name, name)


def op(spec: Spec, method: str, path: str):
    return next(o for o in spec.operations if o.method == method and o.path == path)


def params(operation) -> dict[tuple[str, str], dict]:
    return {(p["in"], p["name"]): p for p in operation.parameters}


def refuse(path: Path) -> SpecError:
    with pytest.raises(SpecError) as caught:
        load_spec(path, path.relative_to(SPECS).as_posix())
    return caught.value


# -- versions ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "version", "dialect", "operations"), [
    ("petstore-2.0.json", "2.0", "oas30", 6),
    ("petstore-3.0.yaml", "3.0.3", "oas30", 4),
    ("petstore-3.1.yaml", "3.1.0", "oas31", 4),
    ("rich-3.0/openapi.yaml", "3.0.3", "oas30", 14),
    ("rich-3.1/openapi.yaml", "3.1.0", "oas31", 14),
    ("webhooks-only-3.1.yaml", "3.1.0", "oas31", 0),
])
def test_each_spec_loads_with_its_version_and_dialect(name, version, dialect, operations):
    spec = load(name)
    assert (spec.version, spec.dialect, len(spec.operations)) == (version, dialect, operations)
    for operation in spec.operations:  # each operation's pointer is where it is in the bundle
        assert walk_pointer(spec.doc, operation.pointer) is not None


def test_openapi_3_2_loads_with_the_3_1_dialect(tmp_path):
    text = (SPECS / "petstore-3.1.yaml").read_text().replace("openapi: 3.1.0", "openapi: 3.2.0")
    (tmp_path / "petstore-3.2.yaml").write_text(text)
    spec = load_spec(tmp_path / "petstore-3.2.yaml")
    assert (spec.version, spec.dialect, len(spec.operations)) == ("3.2.0", "oas31", 4)


@pytest.mark.parametrize("name", ["petstore-2.0.json", "petstore-3.0.yaml", "petstore-3.1.yaml"])
def test_the_petstore_has_the_same_operations_in_every_version(name):
    spec = load(name)
    ids = {(o.method, o.path): o.operation_id for o in spec.operations}
    assert ids[("GET", "/pets")] == "listPets"
    assert ids[("POST", "/pets")] == "createPet"
    assert ids[("GET", "/pets/{petId}")] == "showPetById"
    assert ids[("DELETE", "/pets/{petId}")] == "deletePet"
    listing = op(spec, "GET", "/pets")
    assert {"limit", "tags"} <= {p["name"] for p in listing.parameters}
    assert listing.parameters[0]["schema"]["maximum"] == 100
    assert set(op(spec, "GET", "/pets/{petId}").responses) == {"200", "404"}
    assert "201" in op(spec, "POST", "/pets").responses
    assert op(spec, "POST", "/pets").request_body["required"] is True
    # the path-level petId reaches every operation on the path
    assert params(op(spec, "DELETE", "/pets/{petId}"))[("path", "petId")]["required"] is True


@pytest.mark.parametrize("name", ["petstore-2.0.json", "petstore-3.0.yaml", "petstore-3.1.yaml"])
def test_an_api_key_guards_only_delete(name):
    spec = load(name)
    assert op(spec, "DELETE", "/pets/{petId}").security == [{"api_key": []}]
    assert op(spec, "GET", "/pets").security == []
    scheme = spec.doc["components"]["securitySchemes"]["api_key"]
    assert scheme == {"type": "apiKey", "name": "X-API-Key", "in": "header"}


@pytest.mark.parametrize("name", ["petstore-3.0.yaml", "petstore-3.1.yaml"])
def test_a_request_example_and_a_response_example_share_a_name(name):
    spec = load(name)
    create = op(spec, "POST", "/pets")
    requests = create.request_body["content"]["application/json"]["examples"]
    responses = create.responses["201"]["content"]["application/json"]["examples"]
    assert set(requests) == set(responses) == {"fluffy", "rex"}
    assert requests["fluffy"]["value"]["name"] == responses["fluffy"]["value"]["name"] == "Fluffy"
    assert spec.resolve(responses["rex"])["value"] == {"id": 2, "name": "Rex", "tag": "dog"}


# -- base paths ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "base_paths"), [
    ("petstore-2.0.json", ["/v2"]),
    ("petstore-3.0.yaml", ["/api/v1"]),
    ("petstore-3.1.yaml", ["/api/v1"]),
    ("rich-3.0/openapi.yaml", ["/rich/v1", "/local"]),
    ("rich-3.1/openapi.yaml", ["/rich/v1", "/local"]),
    ("webhooks-only-3.1.yaml", [""]),
])
def test_base_paths_come_from_servers_with_variables_at_their_defaults_or_from_basepath(name, base_paths):
    assert load(name).base_paths == base_paths


def test_swagger_host_and_basepath_become_a_server():
    assert load("petstore-2.0.json").doc["servers"] == [{"url": "http://localhost:4010/v2"}]


# -- parameters ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["rich-3.0/openapi.yaml", "rich-3.1/openapi.yaml"])
def test_an_operation_parameter_overrides_the_path_level_one_of_the_same_name_and_place(name):
    spec = load(name)
    get = params(op(spec, "GET", "/pets/{petId}"))
    assert list(get) == [("path", "petId"), ("query", "verbose"), ("header", "X-Trace-Id")]
    assert get[("query", "verbose")]["required"] is True
    assert get[("query", "verbose")]["schema"] == {"type": "string", "enum": ["yes", "no"]}
    # the other operations on the path get the path-level one
    put = params(op(spec, "PUT", "/pets/{petId}"))
    assert put[("query", "verbose")]["required"] is False
    assert put[("query", "verbose")]["schema"] == {"type": "boolean"}
    assert put[("path", "petId")]["schema"] == {"$ref": "#/components/schemas/Id"}


@pytest.mark.parametrize("name", ["rich-3.0/openapi.yaml", "rich-3.1/openapi.yaml"])
def test_every_parameter_place_and_style_is_listed_as_written(name):
    listing = params(op(load(name), "GET", "/pets"))
    styles = {name: (p.get("style"), p.get("explode")) for (_, name), p in listing.items()}
    assert styles["tags"] == ("form", True)
    assert styles["ids"] == ("form", False)
    assert styles["colors"] == ("spaceDelimited", False)
    assert styles["sizes"] == ("pipeDelimited", False)
    assert styles["filter"] == ("deepObject", True)
    assert listing[("header", "X-Request-ID")]["schema"]["format"] == "uuid"  # from components
    assert ("cookie", "session") in listing
    spec = load(name)
    assert params(op(spec, "GET", "/points/{coords}"))[("path", "coords")]["style"] == "matrix"
    assert params(op(spec, "GET", "/labels/{label}"))[("path", "label")]["style"] == "label"


@pytest.mark.parametrize("name", ["rich-3.0/openapi.yaml", "rich-3.1/openapi.yaml"])
def test_form_and_multipart_bodies_and_security_overrides(name):
    spec = load(name)
    login = op(spec, "POST", "/login")
    form = login.request_body["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form["required"] == ["username", "password"]
    assert login.security == []  # `security: []` turns the document's bearer off
    assert op(spec, "GET", "/pets").security == [{"bearer": []}]
    upload = op(spec, "POST", "/pets/{petId}/photo").request_body["content"]["multipart/form-data"]
    assert upload["schema"]["properties"]["file"] == {"type": "string", "format": "binary"}
    assert upload["encoding"]["metadata"]["contentType"] == "application/json"
    # a request body that is a $ref is resolved one level
    assert "application/json" in op(spec, "POST", "/pets").request_body["content"]


# -- multi-file specs ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["rich-3.0/openapi.yaml", "rich-3.1/openapi.yaml"])
def test_refs_into_other_files_become_internal_and_resolve(name):
    spec = load(name)
    assert sorted(spec.files.values()) == sorted(
        ["schemas/error.yaml", "schemas/formats.yaml", "schemas/owner.yaml", "schemas/pet.yaml",
         "schemas/tree.yaml"] + (["paths/trees.yaml"] if "3.1" in name else []))
    pet = spec.doc["components"]["schemas"]["Pet"]
    assert pet["$ref"].startswith(f"#/{FILES}/")
    assert set(spec.resolve(pet)) == {"oneOf", "discriminator"}
    assert spec.where(pet["$ref"][1:]) == "schemas/pet.yaml#/Pet"
    # a whole-file $ref (no fragment) is the file's tree
    error = spec.resolve(spec.doc["components"]["schemas"]["Error"])
    assert error["required"] == ["code", "message"]
    assert spec.where(spec.doc["components"]["schemas"]["Error"]["$ref"][1:]) == "schemas/error.yaml#"
    # a $ref from a referenced file back into the main file
    base = spec.resolve(spec.resolve(pet)["oneOf"][0])["allOf"][0]
    assert spec.resolve(spec.resolve(base)["properties"]["id"]) == {"type": "integer", "format": "int64", "minimum": 1}
    # every $ref in the bundle is internal and points at something
    text = repr(spec.doc)
    assert ".yaml#" not in text and "'$ref': './" not in text


@pytest.mark.parametrize("name", ["rich-3.0/openapi.yaml", "rich-3.1/openapi.yaml"])
def test_a_discriminator_mapping_in_a_referenced_file_points_into_the_bundle(name):
    spec = load(name)
    pet = spec.resolve(spec.doc["components"]["schemas"]["Pet"])
    mapping = pet["discriminator"]["mapping"]
    assert set(mapping) == {"cat", "dog", "lizard"}
    for kind, target in mapping.items():
        schema = spec.resolve({"$ref": target})
        assert "allOf" in schema, kind
    assert spec.where(mapping["dog"][1:]) == "schemas/pet.yaml#/Dog"
    shape = spec.doc["components"]["schemas"]["Shape"]
    assert shape["discriminator"] == {"propertyName": "shape"}  # no mapping: the schema names


def test_a_path_item_in_another_file_lists_its_operations_where_they_are():
    spec = load("rich-3.1/openapi.yaml")
    tree = op(spec, "GET", "/trees/{treeId}")
    assert spec.where(tree.pointer) == "paths/trees.yaml#/get"
    assert list(params(tree)) == [("path", "treeId"), ("query", "depth")]
    assert tree.responses["404"]["description"] == "No such thing"  # ../openapi.yaml#/components/...


@pytest.mark.parametrize("name", ["rich-3.0/openapi.yaml", "rich-3.1/openapi.yaml"])
def test_circular_schemas_load_and_resolve(name):
    spec = load(name)
    node = spec.resolve(op(spec, "GET", "/trees/{treeId}").responses["200"]["content"]["application/json"]["schema"])
    assert spec.resolve(node["properties"]["children"]["items"]) is node  # a tree of itself
    person = spec.resolve(op(spec, "GET", "/people/{name}").responses["200"]["content"]["application/json"]["schema"])
    company = spec.resolve(person["properties"]["employer"])
    assert spec.resolve(company["properties"]["employees"]["items"]) is person  # two that refer to each other


def test_the_3_1_corpus_keeps_what_3_1_adds():
    spec = load("rich-3.1/openapi.yaml")
    formats = spec.resolve(op(spec, "POST", "/formats").request_body["content"]["application/json"]["schema"])
    props = formats["properties"]
    assert props["nickname"]["type"] == ["string", "null"]
    assert props["version"] == {"const": 2}
    assert props["int64"]["exclusiveMinimum"] == 0
    assert {"uuid", "email", "uri", "ipv4", "ipv6", "byte", "binary", "date", "date-time"} <= {
        p.get("format") for p in props.values()}
    assert spec.notes == ["webhooks are listed but not served (stuntman answers requests, it does not send them)"]


def test_a_webhook_only_document_loads_with_a_note_that_nothing_is_served():
    spec = load("webhooks-only-3.1.yaml")
    assert spec.operations == []
    assert spec.notes and "nothing is served" in spec.notes[0]
    assert set(spec.doc["webhooks"]) == {"petCreated", "petDeleted"}


# -- Swagger 2.0 in 3.0 shape --------------------------------------------------------------------

def test_swagger_body_parameter_becomes_a_request_body_per_consumed_type():
    create = op(load("petstore-2.0.json"), "POST", "/pets")
    assert create.parameters == []
    body = create.request_body
    assert body["required"] is True
    assert set(body["content"]) == {"application/json", "application/xml"}
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/definitions/NewPet"}
    assert body["content"]["application/json"]["example"] == {"name": "Fluffy", "tag": "cat"}


def test_swagger_form_data_becomes_a_form_or_multipart_body():
    spec = load("petstore-2.0.json")
    form = op(spec, "POST", "/pets/{petId}").request_body
    assert list(form["content"]) == ["application/x-www-form-urlencoded"]
    schema = form["content"]["application/x-www-form-urlencoded"]["schema"]
    assert schema["required"] == ["name"]
    assert schema["properties"]["tag"] == {"type": "string", "nullable": True}  # from x-nullable
    upload = op(spec, "POST", "/pets/{petId}/photo")
    multipart = upload.request_body["content"]["multipart/form-data"]["schema"]
    assert multipart["properties"]["file"] == {"type": "string", "format": "binary"}  # type: file
    assert list(params(upload)) == [("path", "petId")]


def test_swagger_responses_get_content_per_produced_type_with_their_examples():
    listing = op(load("petstore-2.0.json"), "GET", "/pets")
    content = listing.responses["200"]["content"]
    assert set(content) == {"application/json", "application/xml"}
    assert content["application/json"]["example"][0]["name"] == "Fluffy"
    assert content["application/xml"]["example"].startswith("<pets>")
    assert content["application/json"]["schema"] == {"$ref": "#/definitions/Pets"}
    assert listing.responses["200"]["headers"]["X-Total-Count"]["schema"] == {"type": "integer", "format": "int64"}
    # a shared response ($ref) converted too
    assert listing.responses["default"]["content"]["application/json"]["example"]["code"] == 400


def test_swagger_collection_formats_become_style_and_explode():
    styles = {p["name"]: (p.get("style"), p.get("explode"), p["schema"]["type"])
              for p in op(load("petstore-2.0.json"), "GET", "/pets").parameters}
    assert styles == {"limit": (None, None, "integer"), "tags": ("form", True, "array"),
                      "fields": ("form", False, "array"), "sort": ("pipeDelimited", False, "array")}


def test_swagger_definitions_x_nullable_and_security_definitions_in_3_0_shape():
    spec = load("petstore-2.0.json")
    components = spec.doc["components"]
    assert components["schemas"] is spec.doc["definitions"]
    assert components["schemas"]["NewPet"]["properties"]["tag"]["nullable"] is True
    schemes = components["securitySchemes"]
    assert schemes["basic"] == {"type": "http", "scheme": "basic"}
    assert schemes["petstore_auth"]["flows"]["implicit"]["scopes"] == {
        "read:pets": "read your pets", "write:pets": "change your pets"}


# -- broken specs --------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "file", "where", "cause"), [
    ("bad-yaml.yaml", "broken/bad-yaml.yaml", "11", "invalid YAML"),
    ("bad-json.json", "broken/bad-json.json", "7", "invalid JSON: Expecting property name"),
    ("dangling-ref.yaml", "broken/dangling-ref.yaml",
     "/paths/~1pets/get/responses/200/content/application~1json/schema/items",
     "$ref points at nothing: #/components/schemas/Pett"),
    ("dangling-ref-in-file/openapi.yaml", "schemas/pet.yaml", "/Pet/properties/owner",
     "$ref points at nothing: schemas/pet.yaml#/Owner"),
    ("missing-file/openapi.yaml", "broken/missing-file/openapi.yaml",
     "/paths/~1pets/get/responses/200/content/application~1json/schema",
     "$ref './schemas/pet.yaml#/Pet': no such file"),
    ("version-4.0.yaml", "broken/version-4.0.yaml", "/openapi", "unknown version '4.0.0'"),
    ("swagger-1.2.json", "broken/swagger-1.2.json", "/swagger", "unknown version '1.2'"),
    ("no-version.yaml", "broken/no-version.yaml", "", "no `openapi` (3.x) or `swagger` (2.0) field"),
    ("paths-not-object.yaml", "broken/paths-not-object.yaml", "/paths", "`paths` must be an object"),
    ("parameter-without-in.yaml", "broken/parameter-without-in.yaml", "/paths/~1pets/get/parameters/0",
     "a parameter needs a `name` and `in`"),
    ("remote-ref.yaml", "broken/remote-ref.yaml",
     "/paths/~1pets/get/responses/200/content/application~1json/schema",
     "remote references are not fetched"),
    ("yaml-bomb.yaml", "broken/yaml-bomb.yaml", "10", "YAML aliases expand past"),
])
def test_a_broken_spec_gets_one_error_naming_the_file_the_place_and_the_cause(name, file, where, cause):
    error = refuse(BROKEN / name)
    assert (error.file, error.where) == (file, where)
    assert cause in error.message
    assert str(error).startswith(file)


def test_an_extension_in_paths_is_not_a_path(tmp_path):
    # (apicurio.local's registry in APIs.guru: `x-codegen-contextRoot` next to the paths was refused as
    # a path not starting with '/'; the Paths object may hold specification extensions)
    (tmp_path / "x.yaml").write_text('openapi: 3.0.3\ninfo: {title: t, version: "1"}\npaths:\n'
                                     '  x-codegen-contextRoot: /apis/registry/v2\n'
                                     '  /a: {get: {responses: {"200": {description: ok}}}}\n')
    spec = load_spec(tmp_path / "x.yaml")
    assert [op.label for op in spec.operations] == ["GET /a"]
    (tmp_path / "y.yaml").write_text('openapi: 3.0.3\ninfo: {title: t, version: "1"}\npaths:\n'
                                     '  a: {get: {responses: {"200": {description: ok}}}}\n')
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path / "y.yaml")
    error = caught.value
    assert error.where == "/paths/a" and "must start with '/'" in error.message


def test_an_invalid_schema_is_refused():
    error = refuse(BROKEN / "invalid-schema.yaml")
    assert error.file == "broken/invalid-schema.yaml" and "not a valid schema" in error.message


def test_a_remote_ref_is_refused_without_a_network_call(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the loader opened a connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    error = refuse(BROKEN / "remote-ref.yaml")
    assert "http://127.0.0.1:9/schemas/pet.yaml#/Pet" in error.message


@pytest.mark.timeout(10)  # expanded, the bomb is 9**9 strings: refused before it is built
def test_a_yaml_bomb_is_refused_before_it_expands():
    error = refuse(BROKEN / "yaml-bomb.yaml")
    assert "a YAML bomb?" in error.message


def test_dangling_refs_in_examples_maps_are_found_and_example_data_is_not_walked(tmp_path):
    (tmp_path / "x.yaml").write_text("X:\n  type: string\n")
    spec_text = """openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /things:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  example:
                    $ref: "./x.yaml#/X"
              examples:
                one:
                  $ref: "#/components/examples/%s"
components:
  examples:
    One:
      value: {$ref: "data, not a reference"}
"""
    (tmp_path / "good.yaml").write_text(spec_text % "One")
    spec = load_spec(tmp_path / "good.yaml")
    schema = op(spec, "GET", "/things").responses["200"]["content"]["application/json"]["schema"]
    assert spec.resolve(schema["properties"]["example"]) == {"type": "string"}  # a property called example
    assert spec.doc["components"]["examples"]["One"]["value"] == {"$ref": "data, not a reference"}
    (tmp_path / "bad.yaml").write_text(spec_text % "Two")
    with pytest.raises(SpecError, match="points at nothing: #/components/examples/Two"):
        load_spec(tmp_path / "bad.yaml")


# -- scale ---------------------------------------------------------------------------------------

def _bench():
    spec = importlib.util.spec_from_file_location("openapi_load", ROOT / "bench" / "openapi_load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_4_mb_spec_with_500_operations_and_1000_schemas_loads(tmp_path):
    path = _bench().generate(tmp_path / "big.yaml")
    assert path.stat().st_size > 3_500_000
    spec = load_spec(path)
    assert len(spec.operations) == 500
    assert len(spec.doc["components"]["schemas"]) == 1000
    assert spec.base_paths == ["/api/v1"]
    item = spec.resolve(spec.doc["components"]["schemas"]["Item124"]["properties"]["related"])
    assert item is spec.doc["components"]["schemas"]["Item0"]  # the ring of $refs closes
