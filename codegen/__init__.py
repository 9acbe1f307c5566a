"""The generation step (``make codegen`` = ``python -m codegen``).

From ``openapi/scaledmail.yaml`` it generates, and ``python -m codegen --check`` verifies:

- ``scaledmail_async/models/__init__.py``: attrs models and StrEnums, by datamodel-code-generator
  through our templates (:mod:`codegen._models` explains the small post-processing steps);
- ``scaledmail_async/models/_wire_names.py``: attribute -> wire name, for the converter;
- ``scaledmail_async/models/bodies.py``: a TypedDict per request body and nested request object
  (:mod:`codegen._bodies`);
- ``scaledmail_async/_generated/`` (``operations.py``, ``schemas.py``, ``client_methods.py``),
  ``api/__init__.py`` and ``api/<tag>.py``: the operation surface (:mod:`codegen._surface`).
  Each operation is defined once, as its ``api/<tag>.py`` function;
  ``_generated/client_methods.py`` derives the client
  methods and the ``with_raw_response`` methods from it (:mod:`scaledmail_async._wrappers`);
- ``README.md`` in each generated folder (``api/``, ``models/``: wholly generated, checked by
  :func:`codegen._output.folder_problems`).

Everything is generated into a temporary tree first and formatted by ruff there
(:mod:`codegen._output`), so a run is deterministic and ``--check`` compares like with like.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from codegen._bodies import render_bodies, request_only_schemas, typed_dict_names
from codegen._models import generate_models
from codegen._output import GENERATED_MARKER, folder_readmes, format_tree
from codegen._spec import SpecError, load_spec, read_operations
from codegen._surface import render_surface

__all__ = ["DEFAULT_SPEC", "REPO_ROOT", "SpecError", "generate"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = REPO_ROOT / "openapi" / "scaledmail.yaml"


def generate(spec_path: Path = DEFAULT_SPEC, root: Path = REPO_ROOT) -> dict[str, str]:
    """Generate every file from ``spec_path``; returns repository-relative path -> content."""
    spec_path = spec_path.resolve()
    try:
        shown = spec_path.relative_to(root.resolve()).as_posix()
    except ValueError:
        shown = spec_path.name
    header = f"{GENERATED_MARKER} from {shown}. Do not edit."
    spec = load_spec(spec_path)
    operations = read_operations(spec)
    with tempfile.TemporaryDirectory(prefix="scaledmail-codegen-") as tmp:
        work = Path(tmp)
        (work / "dcg").mkdir()
        models = generate_models(
            spec,
            header,
            work / "dcg",
            strict_schemas=request_only_schemas(spec, operations),
            body_names=typed_dict_names(spec, operations),
        )
        bodies_source = render_bodies(
            header=header,
            spec=spec,
            ops=operations,
            schema_classes=models.schema_classes,
            enum_classes=models.enum_classes,
        )
        files = {
            "scaledmail_async/models/__init__.py": models.source,
            "scaledmail_async/models/_wire_names.py": models.wire_names_source,
            "scaledmail_async/models/bodies.py": bodies_source,
        }
        files.update(
            render_surface(
                header=header,
                spec=spec,
                ops=operations,
                schema_classes=models.schema_classes,
                enum_classes=models.enum_classes,
            )
        )
        files.update(folder_readmes(header))
        return format_tree(files, root, work / "out")
