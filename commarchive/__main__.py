from commarchive.cli import main

if __name__ == "__main__":  # ingest workers are spawned: they import this again
    main()
