from mlgen.cli import main

raise SystemExit(main())
