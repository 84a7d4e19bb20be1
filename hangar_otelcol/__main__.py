from hangar_otelcol.cli import main

raise SystemExit(main())
