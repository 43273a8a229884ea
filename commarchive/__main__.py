from commarchive.cli import main

main()
