"""The part of Kustomize that ``infra/`` uses, rendered in Python.

``just deploy`` must render manifests on machines without kubectl or
kustomize (a laptop, a CI job that only reviews them), and the manifests are
plain data, so this module builds a kustomization tree with PyYAML:
``resources`` (files and directories), ``namespace``, ``labels`` (metadata
only), ``commonAnnotations``, ``images`` and ``patches`` (strategic merge or
JSON 6902, from a file or inline, optionally with a ``target``). Transformers
run in Kustomize's order (patches, namespace, labels, annotations, images) at
each level of the tree. A kustomization that asks for anything else is
refused by name instead of being rendered differently from what
``kubectl apply -k`` would apply; so is a path outside the project.

One difference is deliberate and documented: resources keep the order the
tree lists them in (namespaces and CRDs first), where Kustomize sorts by kind.
"""

import copy
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from . import DeploymentError

Document = dict[str, Any]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_FIELDS = (
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "commonAnnotations",
    "images",
    "patches",
)
_TARGET_FIELDS = frozenset({"group", "version", "kind", "name", "namespace"})
#: Kinds without a namespace: the namespace transformer leaves them alone.
_CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "APIService",
        "ClusterServingRuntime",
        "ClusterStorageContainer",
    }
)
_FIRST = ("Namespace", "CustomResourceDefinition")


def render(directory: Path, *, root: Path) -> list[Document]:
    """The resources the kustomization in ``directory`` produces.

    Raises:
        DeploymentError: a file is missing or malformed, a field is not supported,
            or a path leaves ``root``.
    """
    directory = directory.resolve()
    return render_kustomization(read_kustomization(directory), directory, root=root)


def render_kustomization(
    kustomization: Mapping[str, Any], directory: Path, *, root: Path
) -> list[Document]:
    """Render a kustomization given as data, its relative paths taken from ``directory``."""
    documents = _build(kustomization, directory.resolve(), root.resolve(), ())
    return sorted(documents, key=_apply_order)


def read_kustomization(directory: Path) -> dict[str, Any]:
    """The kustomization file of ``directory``, as a mapping."""
    for name in KUSTOMIZATION_FILES:
        path = directory / name
        if path.is_file():
            data = _load_one(path)
            if not isinstance(data, dict):
                raise DeploymentError(f"{path} must hold a mapping (a Kustomization).")
            return data
    raise DeploymentError(f"{directory} has no kustomization.yaml.")


def _build(
    kustomization: Mapping[str, Any], directory: Path, root: Path, seen: tuple[Path, ...]
) -> list[Document]:
    where = directory / "kustomization.yaml"
    unknown = sorted(set(kustomization) - set(SUPPORTED_FIELDS))
    if unknown:
        raise DeploymentError(
            f"{_shown(where, root)} uses {', '.join(unknown)}, which `just deploy` does not "
            f"render; it renders: {', '.join(SUPPORTED_FIELDS[2:])}. Keep to those, or render "
            "with `kubectl kustomize` yourself."
        )
    if directory in seen:
        raise DeploymentError(f"{_shown(where, root)} includes itself through its resources.")
    documents: list[Document] = []
    for entry in _strings(kustomization.get("resources", []), "resources", where, root):
        documents.extend(_resource(entry, directory, root, (*seen, directory)))
    for patch in _mappings(kustomization.get("patches", []), "patches", where, root):
        documents = _patched(documents, patch, directory, root)
    if "namespace" in kustomization:
        namespace = _string(kustomization["namespace"], "namespace", where, root)
        for document in documents:
            if document["kind"] not in _CLUSTER_SCOPED:
                # After the name, where people look for it (Kustomize sorts keys instead).
                metadata = {k: v for k, v in document["metadata"].items() if k != "namespace"}
                named = {"name": metadata.pop("name"), "namespace": namespace}
                document["metadata"] = named | metadata
    for label in _mappings(kustomization.get("labels", []), "labels", where, root):
        _add_labels(documents, label, where, root)
    annotations = kustomization.get("commonAnnotations", {})
    _metadata_update(documents, "annotations", _string_map(annotations, where, root))
    for image in _mappings(kustomization.get("images", []), "images", where, root):
        _set_image(documents, image, where, root)
    return documents


def _resource(entry: str, directory: Path, root: Path, seen: tuple[Path, ...]) -> list[Document]:
    if "://" in entry or entry.startswith(("github.com/", "git@")):
        raise DeploymentError(
            f"Remote resource {entry!r} in {_shown(directory, root)}: `just deploy` renders only "
            "files inside the project; vendor it into infra/."
        )
    path = _inside(directory / entry, root)
    if path.is_dir():
        return _build(read_kustomization(path), path, root, seen)
    if not path.is_file():
        raise DeploymentError(f"Resource {entry!r} of {_shown(directory, root)} does not exist.")
    documents = []
    for document in _load_all(path):
        if not isinstance(document, dict) or not {"apiVersion", "kind", "metadata"} <= set(
            document
        ):
            raise DeploymentError(
                f"{_shown(path, root)} holds a document without apiVersion, kind and metadata."
            )
        if not isinstance(document["metadata"], dict) or "name" not in document["metadata"]:
            raise DeploymentError(f"{_shown(path, root)} holds a resource without metadata.name.")
        documents.append(document)
    return documents


# -- patches ---------------------------------------------------------------------


def _patched(
    documents: list[Document], entry: Mapping[str, Any], directory: Path, root: Path
) -> list[Document]:
    where = _shown(directory / "kustomization.yaml", root)
    unknown = sorted(set(entry) - {"path", "patch", "target"})
    if unknown or ("path" in entry) == ("patch" in entry):
        raise DeploymentError(
            f"A patch in {where} must have either `path` or `patch` (and optionally `target`); "
            f"got {', '.join(sorted(entry))}."
        )
    if "path" in entry:
        source = _inside(directory / str(entry["path"]), root)
        if not source.is_file():
            raise DeploymentError(f"Patch file {entry['path']!r} of {where} does not exist.")
        patch = _load_one(source)
        name = _shown(source, root)
    else:
        patch = _parse(str(entry["patch"]), f"an inline patch in {where}")
        name = f"an inline patch in {where}"
    target = entry.get("target")
    if target is not None and not isinstance(target, dict):
        raise DeploymentError(f"The target of {name} must be a mapping.")
    if isinstance(patch, list):
        if target is None:
            raise DeploymentError(f"{name} is a JSON 6902 patch, which needs a `target`.")
        selected = [doc for doc in documents if _matches(doc, target, name)]
        patched = {id(doc): _json6902(doc, patch, name) for doc in selected}
    elif isinstance(patch, dict):
        if target is None:
            target = _target_of(patch, name)
        selected = [doc for doc in documents if _matches(doc, target, name)]
        patched = {id(doc): _strategic_merge(doc, patch, name) for doc in selected}
    else:
        raise DeploymentError(f"{name} is neither a strategic-merge nor a JSON 6902 patch.")
    if not selected:
        raise DeploymentError(f"{name} matches no resource ({_describe(target)}).")
    return [patched.get(id(doc), doc) for doc in documents]


def _target_of(patch: Mapping[str, Any], name: str) -> dict[str, str]:
    metadata = patch.get("metadata")
    if not ("kind" in patch and isinstance(metadata, dict) and "name" in metadata):
        raise DeploymentError(f"{name} needs kind and metadata.name, or a `target`.")
    target = {"kind": str(patch["kind"]), "name": str(metadata["name"])}
    if "apiVersion" in patch:
        group, _, version = str(patch["apiVersion"]).rpartition("/")
        target |= {"group": group, "version": version}
    return target


def _matches(document: Document, target: Mapping[str, Any], name: str) -> bool:
    unknown = sorted(set(target) - _TARGET_FIELDS)
    if unknown:
        raise DeploymentError(
            f"The target of {name} uses {', '.join(unknown)}; `just deploy` selects by "
            f"{', '.join(sorted(_TARGET_FIELDS))}."
        )
    group, _, version = str(document["apiVersion"]).rpartition("/")
    actual = {
        "group": group,
        "version": version,
        "kind": document["kind"],
        "name": document["metadata"]["name"],
        "namespace": document["metadata"].get("namespace", ""),
    }
    return all(re.fullmatch(str(wanted), str(actual[key])) for key, wanted in target.items())


def _strategic_merge(document: Document, patch: Mapping[str, Any], name: str) -> Document:
    """Maps merge key by key, ``null`` deletes, lists are replaced (as for a custom resource).

    Kustomize merges the lists of built-in kinds by key (containers by name):
    rather than render those differently, such a patch is refused.
    """
    group = str(document["apiVersion"]).rpartition("/")[0]
    built_in = not group or group.endswith(".k8s.io") or "." not in group
    if built_in and _has_list(patch):
        raise DeploymentError(
            f"{name} patches a list of the built-in kind {document['kind']}, which Kustomize "
            "merges by key; write it as a JSON 6902 patch (a list of operations) instead."
        )
    merged: Document = _merge(document, patch, name)  # a mapping merged into a mapping
    return merged


def _merge(base: Any, patch: Any, name: str) -> Any:
    if not (isinstance(base, dict) and isinstance(patch, dict)):
        return copy.deepcopy(patch)
    directives = sorted(key for key in patch if str(key).startswith("$"))
    if directives:
        raise DeploymentError(f"{name} uses {', '.join(directives)}, which is not rendered.")
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge(merged.get(key), value, name)
    return merged


def _has_list(value: Any) -> bool:
    if isinstance(value, list):
        return True
    return isinstance(value, dict) and any(_has_list(item) for item in value.values())


def _json6902(document: Document, operations: list[Any], name: str) -> Document:
    result = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise DeploymentError(f"{name}: every operation needs `op` and `path`.")
        op, pointer = operation["op"], str(operation["path"])
        parent, key = _pointer(result, pointer, name, create=op == "add")
        if op in {"add", "replace", "test"} and "value" not in operation:
            raise DeploymentError(f"{name}: `{op} {pointer}` needs a value.")
        if op == "add":
            _add(parent, key, copy.deepcopy(operation["value"]), pointer, name)
        elif op == "remove":
            _existing(parent, key, pointer, name)
            del parent[key]
        elif op == "replace":
            _existing(parent, key, pointer, name)
            parent[key] = copy.deepcopy(operation["value"])
        elif op == "test":
            if _existing(parent, key, pointer, name) != operation["value"]:
                raise DeploymentError(f"{name}: test of {pointer} failed.")
        else:
            raise DeploymentError(
                f"{name}: operation {op!r} is not rendered; use add, remove, replace or test."
            )
    return result


def _pointer(document: Document, pointer: str, name: str, *, create: bool) -> tuple[Any, Any]:
    """The container holding the last token of a JSON pointer, and that token."""
    if not pointer.startswith("/"):
        raise DeploymentError(f"{name}: {pointer!r} is not a JSON pointer (it starts with /).")
    tokens = [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]
    node: Any = document
    for token in tokens[:-1]:
        node = _existing(node, _index(node, token, pointer, name), pointer, name)
    last = tokens[-1]
    if isinstance(node, list):
        return node, "-" if create and last == "-" else _index(node, last, pointer, name)
    if not isinstance(node, dict):
        raise DeploymentError(f"{name}: {pointer} does not lead into a mapping or a list.")
    return node, last


def _index(node: Any, token: str, pointer: str, name: str) -> Any:
    if not isinstance(node, list):
        return token
    if not token.isdigit():
        raise DeploymentError(f"{name}: {pointer} indexes a list with {token!r}.")
    return int(token)


def _existing(node: Any, key: Any, pointer: str, name: str) -> Any:
    try:
        return node[key]
    except (KeyError, IndexError, TypeError):
        raise DeploymentError(f"{name}: {pointer} does not exist.") from None


def _add(parent: Any, key: Any, value: Any, pointer: str, name: str) -> None:
    if isinstance(parent, dict):
        parent[key] = value
    elif key == "-":
        parent.append(value)
    elif key <= len(parent):
        parent.insert(key, value)
    else:
        raise DeploymentError(f"{name}: {pointer} is past the end of its list.")


# -- metadata and images ---------------------------------------------------------


def _add_labels(
    documents: list[Document], entry: Mapping[str, Any], where: Path, root: Path
) -> None:
    unknown = sorted(set(entry) - {"pairs", "includeSelectors", "includeTemplates"})
    if unknown or entry.get("includeSelectors") or entry.get("includeTemplates"):
        raise DeploymentError(
            f"labels in {_shown(where, root)}: `just deploy` renders `pairs` on metadata only "
            "(no includeSelectors, includeTemplates or fields)."
        )
    _metadata_update(documents, "labels", _string_map(entry.get("pairs", {}), where, root))


def _metadata_update(documents: Iterable[Document], field: str, values: dict[str, str]) -> None:
    if values:
        for document in documents:
            document["metadata"][field] = {**(document["metadata"].get(field) or {}), **values}


def _set_image(
    documents: list[Document], entry: Mapping[str, Any], where: Path, root: Path
) -> None:
    unknown = sorted(set(entry) - {"name", "newName", "newTag", "digest"})
    if unknown or "name" not in entry:
        raise DeploymentError(
            f"images in {_shown(where, root)}: each entry has a name and newName, newTag or digest."
        )
    for container in _containers(documents):
        name, tag, digest = split_image(str(container["image"]))
        if name != entry["name"]:
            continue
        name = str(entry.get("newName", name))
        if "digest" in entry:
            container["image"] = f"{name}@{entry['digest']}"
        elif "newTag" in entry:
            container["image"] = f"{name}:{entry['newTag']}"
        else:
            container["image"] = (
                name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
            )


def _containers(value: Any) -> Iterable[dict[str, Any]]:
    """Every container of any resource: Kustomize looks for these lists anywhere."""
    if isinstance(value, list):
        for item in value:
            yield from _containers(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in {"containers", "initContainers"} and isinstance(item, list):
                yield from (c for c in item if isinstance(c, dict) and "image" in c)
            yield from _containers(item)


def split_image(image: str) -> tuple[str, str, str]:
    """``registry/name:tag@digest`` → name, tag, digest (empty when absent)."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :], digest
    return name, "", digest


# -- reading ---------------------------------------------------------------------


def _inside(path: Path, root: Path) -> Path:
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise DeploymentError(
            f"{path} is outside the project ({root.name}); `just deploy` reads only the project's "
            "own files."
        )
    return resolved


def _load_all(path: Path) -> list[Any]:
    try:
        return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    except yaml.YAMLError as exc:
        raise DeploymentError(f"{path.name} is not valid YAML: {_first_line(exc)}") from None


def _load_one(path: Path) -> Any:
    documents = _load_all(path)
    if len(documents) != 1:
        raise DeploymentError(f"{path.name} must hold exactly one YAML document.")
    return documents[0]


def _parse(text: str, name: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DeploymentError(f"{name} is not valid YAML: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def _strings(value: Any, field: str, where: Path, root: Path) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DeploymentError(f"{field} in {_shown(where, root)} must be a list of paths.")
    return value


def _mappings(value: Any, field: str, where: Path, root: Path) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise DeploymentError(f"{field} in {_shown(where, root)} must be a list of mappings.")
    return value


def _string(value: Any, field: str, where: Path, root: Path) -> str:
    if not isinstance(value, str) or not value:
        raise DeploymentError(f"{field} in {_shown(where, root)} must be a non-empty string.")
    return value


def _string_map(value: Any, where: Path, root: Path) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        raise DeploymentError(
            f"Labels and annotations in {_shown(where, root)} must map strings to strings "
            '(quote numbers and booleans: "true").'
        )
    return value


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _describe(target: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(target.items()))


def _apply_order(document: Document) -> int:
    kind = document["kind"]
    if kind in _FIRST:
        return _FIRST.index(kind)
    return len(_FIRST) + (1 if kind.endswith("WebhookConfiguration") else 0)
