"""Pact contracts (specification v1 to v4): pact files read (document), the matching rules and
their paths (rules, paths, matchers), requests and responses compared as the specification says
(compare, body, xml, content), generators (generate, javatime), and an interaction as a route
(route) whose answer stuntman.respond.pact makes. No protocol here, and no pipeline."""
