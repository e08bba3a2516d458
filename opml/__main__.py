from opml.cli import main

raise SystemExit(main())
