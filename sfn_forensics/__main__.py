from sfn_forensics.cli import main

raise SystemExit(main())
