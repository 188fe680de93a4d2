from examples.call_summary.app import main

main()
