"""The README's screenshots: the evaluation report, the prediction page and the comparison
page, made by headless Chromium from trained models (Debian's chromium and
chromium-driver, selenium).

    python scripts/screenshots.py --model models/newswire [--compare-with models/OTHER] [--data data/newswire/dev.jsonl] [--out docs]

Writes OUT/report.png (the top of `newstag evaluate --report`'s page), OUT/predict.png
(the first articles of `newstag predict --format html`) and, with --compare-with,
OUT/compare.png (`newstag compare OTHER MODEL --report`), 1200 pixels wide.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WIDTH, HEIGHT = 1200, 1500


def newstag(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "newstag.cli", *args], check=True, stdout=subprocess.DEVNULL)


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--window-size={WIDTH},{HEIGHT}"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--data", type=Path, default=Path("data/newswire/dev.jsonl"))
    ap.add_argument("--articles", type=int, default=3, help="articles on the prediction page")
    ap.add_argument("--compare-with", type=Path, help="a second model: also the comparison page (it as A, --model as B)")
    ap.add_argument("--out", type=Path, default=Path("docs"))
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = tmp / args.model.resolve().name  # the pages name it
        shutil.copytree(args.model, model)  # evaluate --report adds to the model card: leave the original as it is
        newstag("evaluate", "-m", str(model), "-d", str(args.data), "--report", str(tmp / "report"))
        few = tmp / "few.jsonl"
        few.write_text("".join(args.data.read_text(encoding="utf-8").splitlines(keepends=True)[:args.articles]),
                       encoding="utf-8")
        newstag("predict", "-m", str(model), str(few), "-o", str(tmp / "page.html"), "--format", "html")
        pages = [(tmp / "report" / "report.html", "report.png"), (tmp / "page.html", "predict.png")]
        if args.compare_with:
            newstag("compare", str(args.compare_with), str(model), "--data", str(args.data), "--report", str(tmp / "cmp"))
            pages.append((tmp / "cmp" / "compare.html", "compare.png"))
        driver = browser()
        try:
            for page, name in pages:
                driver.get(page.resolve().as_uri())
                driver.save_screenshot(str(args.out / name))
                print(args.out / name)
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
