"""Architecture rules: engine/ never imports Streamlit; the home page stays free of heavy libraries."""

import ast
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
