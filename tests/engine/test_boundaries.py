"""Architecture rules: engine/ never imports Streamlit; the home page stays free of heavy libraries."""

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_engine_never_imports_streamlit():
    for path in (ROOT / "engine").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            assert not any(n.split(".")[0] == "streamlit" for n in names), f"{path} imports streamlit"


def test_home_page_does_not_import_torch_shap_or_pennylane():
    """The app opens on the home page; only technique pages may pay for the heavy imports."""
    code = (
        "import sys; from streamlit.testing.v1 import AppTest; at = AppTest.from_file('app.py', default_timeout=30); at.run(); "
        "assert not at.exception; print(sorted(m for m in ('torch', 'shap', 'pennylane') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_no_unpickling_of_anything_in_project_code():
    for folder in ("engine", "ui", "pages"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            assert "pickle.load" not in text and "joblib.load" not in text, path
            assert "torch.load(" not in text or "weights_only=True" in text, path


SERVICE_INSIDES = re.compile(r"\b(?:service\(\)|_service|Service\([^()]*\))\.(?:executor|store)\b")


def _service_names(tree: ast.AST) -> set[str]:
    """Names bound to the service in a module: ``app = service()``, ``svc = Service(...)``."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called in ("service", "Service"):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _reaches_inside(node: ast.AST, names: set[str]) -> bool:
    """``<the service>.executor`` or ``<the service>.store``."""
    if not (isinstance(node, ast.Attribute) and node.attr in ("executor", "store")):
        return False
    value = node.value
    if isinstance(value, ast.Call):
        func = value.func
        return (isinstance(func, ast.Name) and func.id in ("service", "Service")) or (
            isinstance(func, ast.Attribute) and func.attr in ("service", "Service")
        )
    return (isinstance(value, ast.Name) and value.id in names) or (
        isinstance(value, ast.Attribute) and value.attr == "_service"
    )


def test_only_the_service_reaches_its_executor_and_run_store():
    """The UI, the pages, the benchmarks and the engine talk to the Service (job snapshots, status, runs, cancel);
    only engine/core/service.py touches ``.executor`` / ``.store`` behind it (code inside strings included)."""
    files = [ROOT / "app.py"] + [p for d in ("ui", "pages", "engine", "benchmarks") for p in (ROOT / d).rglob("*.py")]
    found = []
    for path in files:
        if path == ROOT / "engine" / "core" / "service.py":
            continue
        text = path.read_text()
        found += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in SERVICE_INSIDES.finditer(text)]
        tree = ast.parse(text)
        names = _service_names(tree)
        found += [
            f"{path.relative_to(ROOT)}:{n.lineno}: {ast.unparse(n)}"
            for n in ast.walk(tree)
            if _reaches_inside(n, names)
        ]
    assert not found, "reach the service's executor or store directly:\n" + "\n".join(sorted(set(found)))


def test_the_rule_above_sees_each_way_of_reaching_in():
    samples = [
        "service().executor.get(x)",
        "app = service()\napp.store.get(x)",
        "import engine.core.service as s\ns._service.executor.close()",
        "svc = Service(ex, None)\nsvc.executor.pids()",
    ]
    for code in samples:
        tree = ast.parse(code)
        names = _service_names(tree)
        assert SERVICE_INSIDES.search(code) or any(_reaches_inside(n, names) for n in ast.walk(tree)), code
    assert not SERVICE_INSIDES.search("service().job(x)") and not any(
        _reaches_inside(n, set()) for n in ast.walk(ast.parse("executor.store = 1"))
    )
