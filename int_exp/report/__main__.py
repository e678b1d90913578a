from int_exp.report.cli import main

raise SystemExit(main())
