from sti_portal.cli import main

main()
