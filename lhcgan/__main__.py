from lhcgan.cli import run

run()
