"""Where every benchmark leaves its figures: build/bench/<name>.json and .md."""

import json
from pathlib import Path

OUT = Path("build/bench")


def publish(name, data, lines, out=OUT):
    """Write ``data`` as JSON and the Markdown table ``lines``, and print the table."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
