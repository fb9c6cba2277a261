"""Run the scraper Lambda handler with pyarrow's S3 support missing, as in the layer.

The AWS SDK for pandas Lambda layer ships a pyarrow built without S3
(aws/aws-sdk-pandas issue 2546: "Got S3 URI but Arrow compiled without S3 support"). This
script hides `pyarrow._s3fs` before anything imports pyarrow, checks that
`pyarrow.fs.S3FileSystem` is then unavailable, invokes the handler with the event given
as JSON on the command line and prints its output as JSON. The lake and BRAPI come from
the environment, as in Lambda. Run it in a fresh process:

    python -m tests.support.layer_scraper '{"tickers": ["PETR4"], "run_date": "2022-09-08"}'
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    sys.modules["pyarrow._s3fs"] = None  # type: ignore[assignment]  # import now fails, as in the layer
    import pyarrow.fs

    try:
        pyarrow.fs.S3FileSystem  # noqa: B018
    except ImportError:
        pass
    else:  # pragma: no cover - the check below would prove nothing
        raise SystemExit("pyarrow's S3FileSystem is still importable")

    from tests.support.modules import FakeLambdaContext, load_module

    handler = load_module("functions/scraper/handler.py", "scraper_handler_in_layer")
    output = handler.lambda_handler(
        json.loads(sys.argv[1]), FakeLambdaContext(function_name="b3-scraper")
    )
    print(
        json.dumps(
            {
                "output": output,
                "s3_modules": sorted(
                    name
                    for name in sys.modules
                    if name.startswith("pyarrow._s3fs") and sys.modules[name]
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
