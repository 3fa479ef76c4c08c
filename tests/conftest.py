"""Every test session gets its own data directory (run store, uploads), never the user's."""
import os
import tempfile

os.environ["FRONTIER_DATA_DIR"] = tempfile.mkdtemp(prefix="frontier-test-")
os.environ.pop("FRONTIER_SINGLE_USER", None)
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
