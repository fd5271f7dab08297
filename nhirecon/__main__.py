from nhirecon.cli import main

main()
