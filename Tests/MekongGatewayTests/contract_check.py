"""Checks answers against an OpenAPI 3.1 document's own schemas, with jsonschema (independent of the server).

    python3 contract_check.py response OPENAPI METHOD PATH STATUS CONTENT_TYPE BODY_FILE
        exit 0 when STATUS is declared for METHOD PATH, CONTENT_TYPE is one of its media types, and the body is
        valid against that media type's schema (formats checked); else exit 1 saying why.
    python3 contract_check.py value OPENAPI KEY...
        prints the value at OPENAPI[KEY][KEY]... as JSON.
"""
import json
import sys

import jsonschema
import yaml


def escape(segment):
    return segment.replace("~", "~0").replace("/", "~1")


def follow(document, pointer):
    node = document
    for part in pointer.lstrip("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def response(document, method, path, status, content_type, body_file):
    operation = document["paths"].get(path, {}).get(method)
    if operation is None:
        return f"{method.upper()} {path} is not in the document"
    responses = operation.get("responses", {})
    key = status if status in responses else "default" if "default" in responses else None
    if key is None:
        return f"{method.upper()} {path}: status {status} is not declared (declared: {', '.join(responses)})"
    pointer = f"#/paths/{escape(path)}/{method}/responses/{escape(key)}"
    declared = follow(document, pointer)
    if "$ref" in declared:
        pointer = declared["$ref"]
        declared = follow(document, pointer)
    media = content_type.split(";")[0].strip().lower()
    content = declared.get("content", {})
    if not content:
        return None
    if media not in content:
        return f"{method.upper()} {path} {status}: content type {media!r} is not declared ({', '.join(content)})"
    with open(body_file, "rb") as f:
        body = json.loads(f.read().decode("utf-8"))
    # The document itself is the root schema, so that its '#/components/...' references resolve; '$ref' picks the
    # response's schema (OpenAPI's other keys are unknown keywords to JSON Schema, and ignored).
    root = dict(document)
    root["$ref"] = f"{pointer}/content/{escape(media)}/schema"
    validator = jsonschema.Draft202012Validator(root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        return "\n".join(f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10])
    return None


def main():
    command, document_path = sys.argv[1], sys.argv[2]
    with open(document_path, encoding="utf-8") as f:
        document = yaml.safe_load(f)
    if command == "value":
        node = document
        for key in sys.argv[3:]:
            node = node[key]
        print(json.dumps(node, default=str))
        return 0
    if command == "response":
        method, path, status, content_type, body_file = sys.argv[3:8]
        problem = response(document, method.lower(), path, status, content_type, body_file)
        if problem:
            print(problem)
            return 1
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
