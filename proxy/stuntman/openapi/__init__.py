"""OpenAPI contracts (Swagger 2.0, OpenAPI 3.0, 3.1): loading and bundling a spec (document.py),
generating data from its schemas (generate.py), validating requests and responses against it
(validate.py), and what changed between two versions of it (diff.py). Nothing here knows the
pipeline: the response source that serves a spec is stuntman.respond.openapi."""
