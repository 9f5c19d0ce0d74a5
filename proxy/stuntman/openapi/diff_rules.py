"""The rules of `stuntman contract diff`: each change it reports has a stable id and a level.

The ids and levels are oasdiff's (github.com/oasdiff/oasdiff, checker/rules.go) wherever oasdiff
has the rule, so its users read the same names; `STUNTMAN_OWN` lists the ids oasdiff lacks and the
ids whose level differs from oasdiff's, with the reason.

Schema changes are named `<direction>-<subject>-<change>`, as oasdiff names them: the direction is
`request` or `response`, the subject is what the schema describes (`body`, `parameter`, `header`,
or a nested `property`), and the change's level depends on the direction: what narrows a request
(a tighter maxLength, an enum value removed) rejects requests clients already send, what widens a
response (an enum value added, null allowed) hands clients values they do not expect.
"""
from __future__ import annotations

ERROR, WARNING, INFO = "error", "warning", "info"
LEVELS = (INFO, WARNING, ERROR)  # in rising order: --fail-on compares ranks

# change → (level in a request, level in a response, what it means)
SCHEMA_CHANGES: dict[str, tuple[str, str, str]] = {
    "type-changed": (ERROR, ERROR, "the type or format changed"),
    "type-generalized": (INFO, ERROR, "the type or format was widened (integer → number, int32 → int64, "
                                      "format dropped)"),
    "type-specialized": (ERROR, INFO, "the type or format was narrowed (number → integer, format added)"),
    "became-nullable": (INFO, ERROR, "null became allowed"),
    "became-not-nullable": (ERROR, INFO, "null is no longer allowed (nullable removed)"),
    "became-enum": (ERROR, INFO, "the values became restricted to an enum"),
    "became-not-enum": (INFO, WARNING, "the enum was removed: any value is allowed"),
    "enum-value-added": (INFO, WARNING, "an enum value was added"),
    "enum-value-removed": (ERROR, INFO, "an enum value was removed"),
    "pattern-added": (ERROR, INFO, "a pattern was added"),
    "pattern-removed": (INFO, INFO, "the pattern was removed"),
    "pattern-changed": (WARNING, INFO, "the pattern changed"),
    "one-of-added": (INFO, ERROR, "a oneOf alternative was added"),
    "one-of-removed": (ERROR, INFO, "a oneOf alternative was removed"),
    "any-of-added": (INFO, ERROR, "an anyOf alternative was added"),
    "any-of-removed": (ERROR, INFO, "an anyOf alternative was removed"),
}
# upper bounds (maxLength, maximum, maxItems) and lower bounds (minLength, minimum, minItems)
BOUND_NAMES = {"maxLength": "max-length", "maximum": "max", "maxItems": "max-items",
               "minLength": "min-length", "minimum": "min", "minItems": "min-items"}
for _bound in BOUND_NAMES.values():
    if _bound.startswith("max"):
        SCHEMA_CHANGES[f"{_bound}-decreased"] = (ERROR, INFO, f"{_bound} decreased")
        SCHEMA_CHANGES[f"{_bound}-set"] = (WARNING, INFO, f"{_bound} set where there was none")
        SCHEMA_CHANGES[f"{_bound}-increased"] = (INFO, ERROR, f"{_bound} increased")
        SCHEMA_CHANGES[f"{_bound}-unset"] = (INFO, ERROR, f"{_bound} removed")
    else:
        SCHEMA_CHANGES[f"{_bound}-increased"] = (ERROR, INFO, f"{_bound} increased")
        SCHEMA_CHANGES[f"{_bound}-set"] = (WARNING, INFO, f"{_bound} set where there was none")
        SCHEMA_CHANGES[f"{_bound}-decreased"] = (INFO, ERROR, f"{_bound} decreased")
        SCHEMA_CHANGES[f"{_bound}-unset"] = (INFO, ERROR, f"{_bound} removed")

SUBJECTS = {"request": ("body", "parameter", "property"), "response": ("body", "header", "property")}

# rules that are not a schema keyword's change: id → (level, what it means)
OTHER_RULES: dict[str, tuple[str, str]] = {
    # paths and operations
    "api-path-removed-without-deprecation": (ERROR, "a path was removed without being deprecated first"),
    "api-path-removed-with-deprecation": (INFO, "a deprecated path was removed"),
    "api-removed-without-deprecation": (ERROR, "an operation was removed without being deprecated first"),
    "api-removed-with-deprecation": (INFO, "a deprecated operation was removed"),
    "endpoint-added": (INFO, "an operation was added"),
    "endpoint-deprecated": (INFO, "an operation was deprecated"),
    "endpoint-reactivated": (INFO, "a deprecated operation is no longer deprecated"),
    # parameters
    "new-required-request-parameter": (ERROR, "a required parameter (query, header, cookie) was added"),
    "new-optional-request-parameter": (INFO, "an optional parameter was added"),
    "request-parameter-removed": (WARNING, "a parameter was removed (clients still sending it may be refused)"),
    "request-parameter-became-required": (ERROR, "an optional parameter became required"),
    "request-parameter-became-optional": (INFO, "a required parameter became optional"),
    "request-parameter-location-changed": (ERROR, "a parameter moved (e.g. from query to header)"),
    "request-parameter-style-changed": (ERROR, "a parameter's serialization style changed"),
    "request-parameter-explode-changed": (ERROR, "a parameter's explode changed"),
    # request body
    "request-body-added-required": (ERROR, "a required request body was added"),
    "request-body-added-optional": (INFO, "an optional request body was added"),
    "request-body-removed": (ERROR, "the request body was removed"),
    "request-body-became-required": (ERROR, "the request body became required"),
    "request-body-became-optional": (INFO, "the request body became optional"),
    "request-body-media-type-added": (INFO, "a request media type was added"),
    "request-body-media-type-removed": (ERROR, "a request media type was removed"),
    # request properties
    "new-required-request-property": (ERROR, "a required request property was added"),
    "new-optional-request-property": (INFO, "an optional request property was added"),
    "request-property-removed": (WARNING, "a request property was removed"),
    "request-property-became-required": (ERROR, "an optional request property became required"),
    "request-property-became-optional": (INFO, "a required request property became optional"),
    # responses
    "response-success-status-removed": (ERROR, "a success (2XX) response was removed"),
    "response-non-success-status-removed": (INFO, "a non-success response was removed"),
    "response-success-status-added": (INFO, "a success response was added"),
    "response-non-success-status-added": (INFO, "a non-success response was added"),
    "response-media-type-removed": (ERROR, "a response media type was removed"),
    "response-media-type-added": (INFO, "a response media type was added"),
    "required-response-header-removed": (ERROR, "a required response header was removed"),
    "optional-response-header-removed": (WARNING, "an optional response header was removed"),
    "response-header-became-optional": (ERROR, "a required response header became optional"),
    "response-header-became-required": (INFO, "an optional response header became required"),
    "response-header-added": (INFO, "a response header was added"),
    # response properties
    "response-required-property-removed": (ERROR, "a required response property was removed"),
    "response-optional-property-removed": (WARNING, "an optional response property was removed"),
    "response-property-became-optional": (ERROR, "a required response property became optional"),
    "response-property-became-required": (INFO, "an optional response property became required"),
    "response-required-property-added": (INFO, "a required response property was added"),
    "response-optional-property-added": (INFO, "an optional response property was added"),
    # security (requirements compared by what the schemes are, not by their names)
    "api-security-became-required": (ERROR, "an operation open to anonymous clients now requires credentials"),
    "api-security-became-optional": (INFO, "an operation that required credentials is now open"),
    "api-security-removed": (ERROR, "a security requirement clients could meet is no longer accepted"),
    "api-security-added": (INFO, "another security requirement is accepted"),
    "api-security-scope-added": (ERROR, "a security requirement needs another scope"),
    "api-security-scope-removed": (INFO, "a security requirement needs one scope fewer"),
}

# What differs from oasdiff (ids it lacks, or levels we set otherwise), and why.
STUNTMAN_OWN: dict[str, str] = {
    "request-parameter-location-changed": "oasdiff reports a moved parameter as removed + added",
    "request-parameter-style-changed": "oasdiff does not compare serialization",
    "request-parameter-explode-changed": "oasdiff does not compare serialization",
    "response-header-became-required": "oasdiff has no rule",
    "api-security-became-required": "oasdiff: api-security-added, info; a client sending no credentials "
                                    "is refused",
    "api-security-became-optional": "oasdiff: api-security-removed, info",
    "api-security-removed": "oasdiff: info; a client using only that requirement is refused",
    "api-security-scope-added": "oasdiff: info; a token without the scope is refused",
    "response-*-any-of-added": "oasdiff: info; a response may now match a shape clients do not know",
}


def schema_rule(direction: str, subject: str, change: str) -> str:
    return f"{direction}-{subject}-{change}"


def _all_rules() -> dict[str, tuple[str, str]]:
    rules = dict(OTHER_RULES)
    for direction, subjects in SUBJECTS.items():
        for subject in subjects:
            for change, (request_level, response_level, meaning) in SCHEMA_CHANGES.items():
                level = request_level if direction == "request" else response_level
                rules[schema_rule(direction, subject, change)] = (level, meaning)
    return rules


RULES: dict[str, tuple[str, str]] = _all_rules()  # id → (level, what it means)


def level_of(rule: str) -> str:
    return RULES[rule][0]


def rank(level: str) -> int:
    return LEVELS.index(level)
