import uuid
from pathlib import Path
from shopflow_cli.deploy import deploy_stack, render_template
def test_dbg(aws_client):
    t = render_template(Path("infra/template.yaml"), Path("infra/statemachine.asl.json"))
    name = f"sf-dbg-{uuid.uuid4().hex[:6]}"
    o = deploy_stack(aws_client("cloudformation"), name, {"Environment": "local"}, t, poll_seconds=0.2)
    sfn = aws_client("stepfunctions")
    print(sfn.list_state_machines())
    print(o.state_machine_arn)
    assert 0
