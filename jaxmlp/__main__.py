from jaxmlp.cli import main

raise SystemExit(main())
