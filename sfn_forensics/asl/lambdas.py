"""The Lambda functions that the Task states of a definition invoke."""

from __future__ import annotations

from dataclasses import dataclass

from sfn_forensics.asl.definition import Definition, StateDef

# Service integrations whose `FunctionName` argument names the function to invoke.
_INVOKE_INTEGRATIONS = ("lambda:invoke", "lambda:invoke.waitForTaskToken", "aws-sdk:lambda:invoke")


@dataclass(frozen=True)
class LambdaRef:
    """A Lambda function that a Task state invokes.

    `function_name` is the bare name, without qualifier. When `dynamic` is True the name is
    chosen at run time: `function_name` is None and `function_name_source` contains the JSONPath
    path or JSONata expression that selects it. `region` and `account` are None unless an ARN
    gives them.
    """

    state_name: str
    function_name: str | None
    qualifier: str | None
    region: str | None
    account: str | None
    dynamic: bool
    function_name_source: str | None = None


def lambda_functions(defn: Definition) -> list[LambdaRef]:
    """List the Lambda functions invoked by the Task states of every scope, in document order.

    Two forms count: a function ARN as `Resource`, and the `lambda:invoke` integrations
    (`arn:aws:states:::lambda:invoke`, its `.waitForTaskToken` variant and the AWS SDK
    integration `aws-sdk:lambda:invoke`) with `FunctionName` in Parameters or JSONata
    Arguments. FunctionName may be a name, `<name>:<qualifier>`, a partial ARN
    (`<account>:function:<name>`) or a full ARN. A separate `Qualifier` argument is used when
    the name has none.
    """
    refs: list[LambdaRef] = []
    for state in defn.states.values():
        if state.type != "Task" or state.resource is None:
            continue
        ref = _lambda_ref(state, state.resource)
        if ref is not None:
            refs.append(ref)
    return refs


def log_group_for(ref: LambdaRef) -> str:
    """Return the default CloudWatch Logs group of the function, `/aws/lambda/<name>`.

    A function configured with a custom log group (LoggingConfig.LogGroup) writes elsewhere.
    Raises ValueError for a function whose name is only known at run time.
    """
    if ref.function_name is None:
        raise ValueError(
            f"the Lambda function of state {ref.state_name!r} is chosen at run time "
            f"(from {ref.function_name_source!r}); read its name from the execution history"
        )
    return f"/aws/lambda/{ref.function_name}"


def _lambda_ref(state: StateDef, resource: str) -> LambdaRef | None:
    parts = resource.split(":")
    if len(parts) >= 7 and parts[0] == "arn" and parts[2] == "lambda" and parts[5] == "function":
        return _ref_from_name(state.name, resource, None)

    is_states_integration = len(parts) >= 6 and parts[0] == "arn" and parts[2] == "states"
    if not is_states_integration or ":".join(parts[5:]) not in _INVOKE_INTEGRATIONS:
        return None

    arguments = state.arguments if state.is_jsonata else state.parameters
    if not isinstance(arguments, dict):
        return LambdaRef(state.name, None, None, None, None, dynamic=True)

    qualifier = arguments.get("Qualifier")
    qualifier = qualifier if isinstance(qualifier, str) and "{%" not in qualifier else None

    name_path = arguments.get("FunctionName.$")
    if isinstance(name_path, str):
        return LambdaRef(state.name, None, None, None, None, True, name_path)
    name = arguments.get("FunctionName")
    if not isinstance(name, str):
        return LambdaRef(state.name, None, None, None, None, dynamic=True)
    if "{%" in name:
        return LambdaRef(state.name, None, None, None, None, True, name)
    return _ref_from_name(state.name, name, qualifier)


def _ref_from_name(state_name: str, name: str, qualifier: str | None) -> LambdaRef:
    """Split a function name, partial ARN or full ARN into its parts."""
    parts = name.split(":")
    region: str | None = None
    account: str | None = None

    if parts[0] == "arn" and len(parts) >= 7 and parts[5] == "function":
        region, account = parts[3] or None, parts[4] or None
        rest = parts[6:]
    elif len(parts) >= 3 and parts[1] == "function":
        account = parts[0]
        rest = parts[2:]
    else:
        rest = parts

    function_name = rest[0]
    if len(rest) > 1 and rest[1]:
        qualifier = rest[1]
    return LambdaRef(state_name, function_name, qualifier, region, account, dynamic=False)
