from int_exp.report.cli import main

main()
