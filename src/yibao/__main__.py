from yibao.cli import app

app(prog_name="yibao")
