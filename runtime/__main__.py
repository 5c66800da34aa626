from mlgen_runtime.cli import main

raise SystemExit(main())
