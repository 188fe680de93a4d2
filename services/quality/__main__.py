from services.quality.app import main

main()
