#!/usr/bin/env python3
"""Static check of a CloudFormation template (YAML or JSON).

Checks what CloudFormation itself would reject before creating anything:
  - YAML syntax, duplicate keys, the short-form tags (!Ref, !Sub, !GetAtt, ...);
  - template sections, parameter types, defaults against AllowedValues and
    MinValue/MaxValue;
  - every Ref, GetAtt, Sub variable, DependsOn, Condition and Fn::If names a
    parameter, resource, pseudo parameter or condition that exists;
  - a resource that has a Condition is only referred to (Ref, GetAtt, Sub,
    DependsOn) where that condition holds: from resources and outputs with the
    same Condition, or inside the true arm of an Fn::If on it (anywhere else
    CloudFormation fails the stack when the condition is false);
  - with the CloudFormation resource specification (npm package
    @aws-cdk/cfnspec, file spec/specification.json): every resource type
    exists, every property is known, required properties are present, values
    have the right shape (object, list, scalar), GetAtt attributes exist.

Usage:
  check-cfn.py [--spec FILE | --no-spec] TEMPLATE...
  check-cfn.py --self-test [--spec FILE | --no-spec]

Needs python3-yaml. Exit status 0 when every template passes.
"""

import argparse
import json
import os
import re
import sys

import yaml

PSEUDO_PARAMETERS = {
    "AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition",
    "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix",
}
TOP_LEVEL = {
    "AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules",
    "Mappings", "Conditions", "Transform", "Resources", "Outputs",
}
RESOURCE_KEYS = {
    "Type", "Properties", "DependsOn", "Condition", "Metadata", "CreationPolicy",
    "UpdatePolicy", "DeletionPolicy", "UpdateReplacePolicy",
}
PARAMETER_KEYS = {
    "Type", "Default", "Description", "AllowedValues", "AllowedPattern", "NoEcho",
    "MinLength", "MaxLength", "MinValue", "MaxValue", "ConstraintDescription",
}
PLAIN_PARAMETER_TYPES = {"String", "Number", "List<Number>", "CommaDelimitedList"}
AWS_PARAMETER_TYPE = re.compile(
    r"^(List<)?AWS::[A-Za-z0-9]+::[A-Za-z0-9]+(::[A-Za-z0-9]+)*(>)?$")
SSM_PARAMETER_TYPE = re.compile(r"^AWS::SSM::Parameter::(Name|Value<.+>)$")
INTRINSICS = {
    "Ref", "Condition", "Fn::Base64", "Fn::Cidr", "Fn::FindInMap", "Fn::GetAtt",
    "Fn::GetAZs", "Fn::ImportValue", "Fn::Join", "Fn::Select", "Fn::Split",
    "Fn::Sub", "Fn::Transform", "Fn::If", "Fn::Equals", "Fn::Not", "Fn::And",
    "Fn::Or", "Fn::Length", "Fn::ToJsonString",
}
CONDITION_FUNCTIONS = {"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"}
SHORT_TAGS = {
    "!Ref": "Ref", "!Condition": "Condition", "!Base64": "Fn::Base64",
    "!Cidr": "Fn::Cidr", "!FindInMap": "Fn::FindInMap", "!GetAtt": "Fn::GetAtt",
    "!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue", "!Join": "Fn::Join",
    "!Select": "Fn::Select", "!Split": "Fn::Split", "!Sub": "Fn::Sub",
    "!Transform": "Fn::Transform", "!If": "Fn::If", "!Equals": "Fn::Equals",
    "!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or",
}


# ---------------------------------------------------------------- loading

class TemplateLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags into long-form dicts
    and refuses duplicate keys (YAML keeps the last one silently;
    CloudFormation rejects the template)."""


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    result = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=deep)
    return result


def _make_tag_constructor(function):
    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if function == "Fn::GetAtt":
                resource, _, attribute = value.partition(".")
                value = [resource, attribute]
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = _construct_mapping(loader, node, deep=True)
        return {function: value}
    return construct


TemplateLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
for _tag, _function in SHORT_TAGS.items():
    TemplateLoader.add_constructor(_tag, _make_tag_constructor(_function))


def load_template(text):
    stripped = text.lstrip()
    if stripped.startswith("{"):
        def no_duplicates(pairs):
            seen = {}
            for key, value in pairs:
                if key in seen:
                    raise ValueError(f"duplicate key {key!r}")
                seen[key] = value
            return seen
        return json.loads(text, object_pairs_hook=no_duplicates)
    return yaml.load(text, Loader=TemplateLoader)


# ---------------------------------------------------------------- checking

class Checker:
    def __init__(self, template, spec):
        self.t = template
        self.spec = spec
        self.errors = []
        self.parameters = {}
        self.resources = {}
        self.conditions = {}
        self.mappings = {}
        # Conditions known to hold where the walk is: the Condition of the
        # resource or output being checked, and the Fn::If arms entered.
        self.assumed = []

    def error(self, where, message):
        self.errors.append(f"{where}: {message}")

    # -- whole template
    def run(self):
        if not isinstance(self.t, dict):
            self.error("template", "is not a mapping")
            return self.errors
        for key in self.t:
            if key not in TOP_LEVEL:
                self.error("template", f"unknown top-level section {key!r}")
        version = self.t.get("AWSTemplateFormatVersion")
        if version is not None and str(version) != "2010-09-09":
            self.error("AWSTemplateFormatVersion", f"must be '2010-09-09', not {version!r}")
        self.parameters = self._section("Parameters")
        self.resources = self._section("Resources")
        self.conditions = self._section("Conditions")
        self.mappings = self._section("Mappings")
        if not self.resources:
            self.error("Resources", "a template needs at least one resource")
        for name in self.resources:
            if name in self.parameters:
                self.error(f"Resources.{name}", "has the same name as a parameter")
            if not re.fullmatch(r"[A-Za-z0-9]+", name):
                self.error(f"Resources.{name}", "logical IDs are alphanumeric")
        for name, parameter in self.parameters.items():
            self._check_parameter(name, parameter)
        for name, condition in self.conditions.items():
            self._check_condition(f"Conditions.{name}", condition)
        for name, resource in self.resources.items():
            self._check_resource(name, resource)
        for name, output in self._section("Outputs").items():
            where = f"Outputs.{name}"
            if not isinstance(output, dict) or "Value" not in output:
                self.error(where, "needs a Value")
                continue
            if "Condition" in output:
                self._check_condition_name(where, output["Condition"])
            self.assumed = [output.get("Condition")]
            self._walk(where, output)
            self.assumed = []
        return self.errors

    def _section(self, name):
        value = self.t.get(name, {})
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.error(name, "must be a mapping")
            return {}
        return value

    # -- parameters
    def _check_parameter(self, name, p):
        where = f"Parameters.{name}"
        if not isinstance(p, dict):
            self.error(where, "must be a mapping")
            return
        for key in p:
            if key not in PARAMETER_KEYS:
                self.error(where, f"unknown parameter attribute {key!r}")
        ptype = p.get("Type")
        if not isinstance(ptype, str):
            self.error(where, "needs a Type")
            return
        if not (ptype in PLAIN_PARAMETER_TYPES or SSM_PARAMETER_TYPE.match(ptype)
                or AWS_PARAMETER_TYPE.match(ptype)):
            self.error(where, f"unknown parameter type {ptype!r}")
        if "Default" in p:
            default = p["Default"]
            allowed = p.get("AllowedValues")
            if allowed is not None and ptype in ("String", "Number") \
                    and str(default) not in [str(a) for a in allowed]:
                self.error(where, f"Default {default!r} is not in AllowedValues")
            if ptype == "Number":
                try:
                    number = float(default)
                except (TypeError, ValueError):
                    self.error(where, f"Default {default!r} is not a number")
                else:
                    if "MinValue" in p and number < float(p["MinValue"]):
                        self.error(where, "Default is below MinValue")
                    if "MaxValue" in p and number > float(p["MaxValue"]):
                        self.error(where, "Default is above MaxValue")
            if ptype == "String" and "AllowedPattern" in p and default != "":
                if not re.fullmatch(p["AllowedPattern"], str(default)):
                    self.error(where, "Default does not match AllowedPattern")

    # -- conditions
    def _check_condition_name(self, where, name):
        if not isinstance(name, str) or name not in self.conditions:
            self.error(where, f"condition {name!r} is not defined")

    def _check_condition(self, where, expr):
        if not (isinstance(expr, dict) and len(expr) == 1
                and next(iter(expr)) in CONDITION_FUNCTIONS):
            self.error(where, "a condition must be Fn::Equals/Not/And/Or or Condition")
            return
        function, args = next(iter(expr.items()))
        if function == "Condition":
            self._check_condition_name(where, args)
            return
        if not isinstance(args, list):
            self.error(where, f"{function} takes a list")
            return
        if function == "Fn::Equals":
            if len(args) != 2:
                self.error(where, "Fn::Equals takes two values")
            for arg in args:
                self._walk(where, arg, in_condition=True)
            return
        if function == "Fn::Not" and len(args) != 1:
            self.error(where, "Fn::Not takes one condition")
        if function in ("Fn::And", "Fn::Or") and not 2 <= len(args) <= 10:
            self.error(where, f"{function} takes 2 to 10 conditions")
        for arg in args:
            self._check_condition(where, arg)

    # -- intrinsic functions anywhere
    def _ref_ok(self, name, in_condition):
        if name in PSEUDO_PARAMETERS or name in self.parameters:
            return True
        return not in_condition and name in self.resources

    def _check_conditional(self, where, name):
        """A reference to resource `name` from where the walk is."""
        resource = self.resources.get(name)
        condition = resource.get("Condition") if isinstance(resource, dict) else None
        if condition and condition not in self.assumed:
            self.error(where, f"refers to {name}, which exists only when condition {condition} holds: "
                              f"give this the same Condition or use Fn::If [{condition}, ...]")

    def _walk(self, where, node, in_condition=False):
        if isinstance(node, list):
            for i, item in enumerate(node):
                self._walk(f"{where}[{i}]", item, in_condition)
            return
        if not isinstance(node, dict):
            return
        if len(node) == 1:
            function, args = next(iter(node.items()))
            if function in INTRINSICS:
                self._check_intrinsic(where, function, args, in_condition)
                return
            if function.startswith("Fn::"):
                self.error(where, f"unknown intrinsic function {function}")
                return
        for key, value in node.items():
            self._walk(f"{where}.{key}", value, in_condition)

    def _check_intrinsic(self, where, function, args, in_condition):
        w = f"{where}.{function}"
        if function == "Ref":
            if not isinstance(args, str) or not self._ref_ok(args, in_condition):
                self.error(w, f"Ref to {args!r}, which is not a parameter, resource "
                              "or pseudo parameter")
            elif args in self.resources:
                self._check_conditional(w, args)
            return
        if function == "Condition":
            self._check_condition_name(w, args)
            return
        if function == "Fn::GetAtt":
            self._check_getatt(w, args)
            return
        if function == "Fn::Sub":
            self._check_sub(w, args, in_condition)
            return
        if function == "Fn::If":
            if not (isinstance(args, list) and len(args) == 3):
                self.error(w, "Fn::If takes [condition, value if true, value if false]")
                return
            self._check_condition_name(w, args[0])
            self.assumed.append(args[0])
            self._walk(w, args[1], in_condition)
            self.assumed.pop()
            self._walk(w, args[2], in_condition)
            return
        if function == "Fn::Join":
            if not (isinstance(args, list) and len(args) == 2 and isinstance(args[0], str)):
                self.error(w, "Fn::Join takes [delimiter, list]")
                return
        elif function == "Fn::Select":
            if not (isinstance(args, list) and len(args) == 2):
                self.error(w, "Fn::Select takes [index, list]")
                return
        elif function == "Fn::Split":
            if not (isinstance(args, list) and len(args) == 2 and isinstance(args[0], str)):
                self.error(w, "Fn::Split takes [delimiter, string]")
                return
        elif function == "Fn::FindInMap":
            if not (isinstance(args, list) and len(args) in (3, 4)):
                self.error(w, "Fn::FindInMap takes [map, top key, second key]")
                return
            if isinstance(args[0], str) and args[0] not in self.mappings:
                self.error(w, f"mapping {args[0]!r} is not defined")
        elif function in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or") and not in_condition:
            # Allowed inside Fn::If branches only through conditions.
            self.error(w, f"{function} belongs in Conditions")
            return
        self._walk(w, args, in_condition)

    def _check_getatt(self, where, args):
        if isinstance(args, str):
            args = args.split(".", 1)
        if not (isinstance(args, list) and len(args) == 2 and isinstance(args[0], str)):
            self.error(where, "Fn::GetAtt takes [resource, attribute]")
            return
        resource, attribute = args
        if resource not in self.resources:
            self.error(where, f"GetAtt of {resource!r}, which is not a resource")
            return
        self._check_conditional(where, resource)
        if not isinstance(attribute, str):
            self._walk(where, attribute)
            return
        rtype = self.resources[resource].get("Type") if isinstance(
            self.resources[resource], dict) else None
        if self.spec and rtype in self.spec["ResourceTypes"]:
            attributes = self.spec["ResourceTypes"][rtype].get("Attributes", {})
            if attribute not in attributes:
                self.error(where, f"{rtype} has no attribute {attribute!r} "
                                  f"(has: {', '.join(sorted(attributes)) or 'none'})")

    def _check_sub(self, where, args, in_condition):
        variables = {}
        if isinstance(args, list):
            if len(args) != 2 or not isinstance(args[0], str) or not isinstance(args[1], dict):
                self.error(where, "Fn::Sub takes a string or [string, {variables}]")
                return
            text, variables = args
            for name, value in variables.items():
                self._walk(f"{where}.{name}", value, in_condition)
        elif isinstance(args, str):
            text = args
        else:
            self.error(where, "Fn::Sub takes a string or [string, {variables}]")
            return
        for match in re.finditer(r"\$\{([^}]*)\}", text):
            name = match.group(1)
            if name.startswith("!"):
                continue  # ${!Literal} is written out as ${Literal}
            if name in variables:
                continue
            if "." in name and name.split(".", 1)[0] in self.resources:
                self._check_getatt(where, name.split(".", 1))
                continue
            if not self._ref_ok(name, in_condition):
                self.error(where, f"${{{name}}} names no parameter, resource, "
                                  "pseudo parameter or Sub variable")
            elif name in self.resources:
                self._check_conditional(where, name)

    # -- resources
    def _check_resource(self, name, r):
        where = f"Resources.{name}"
        if not isinstance(r, dict):
            self.error(where, "must be a mapping")
            return
        for key in r:
            if key not in RESOURCE_KEYS:
                self.error(where, f"unknown resource attribute {key!r}")
        rtype = r.get("Type")
        if not isinstance(rtype, str) or not re.fullmatch(
                r"(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+(::[A-Za-z0-9]+)?|Custom::[A-Za-z0-9_@-]+)", rtype):
            self.error(where, f"bad Type {rtype!r}")
            return
        if "Condition" in r:
            self._check_condition_name(where, r["Condition"])
        self.assumed = [r.get("Condition")]
        depends = r.get("DependsOn", [])
        for dep in [depends] if isinstance(depends, str) else depends:
            if dep not in self.resources:
                self.error(where, f"DependsOn {dep!r}, which is not a resource")
            else:
                self._check_conditional(f"{where}.DependsOn", dep)
        for key in ("Metadata", "CreationPolicy", "UpdatePolicy"):
            if key in r:
                self._walk(f"{where}.{key}", r[key])
        props = r.get("Properties", {})
        self._walk(f"{where}.Properties", props)
        self.assumed = []
        if not self.spec or rtype.startswith("Custom::"):
            return
        rspec = self.spec["ResourceTypes"].get(rtype)
        if rspec is None:
            self.error(where, f"unknown resource type {rtype}")
            return
        self._check_properties(f"{where}.Properties", rtype, rspec.get("Properties", {}), props)

    def _property_type(self, rtype, name):
        if name == "Tag":
            return self.spec["PropertyTypes"].get("Tag")
        return self.spec["PropertyTypes"].get(f"{rtype}.{name}")

    @staticmethod
    def _is_intrinsic(value):
        return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in INTRINSICS

    def _branches(self, value):
        """The values a property may take: both arms of Fn::If, minus NoValue."""
        if isinstance(value, dict) and len(value) == 1 and "Fn::If" in value \
                and isinstance(value["Fn::If"], list) and len(value["Fn::If"]) == 3:
            out = []
            for arm in value["Fn::If"][1:]:
                out.extend(self._branches(arm))
            return out
        if value == {"Ref": "AWS::NoValue"}:
            return []
        return [value]

    def _check_properties(self, where, rtype, pspecs, props):
        if self._is_intrinsic(props):
            return
        if not isinstance(props, dict):
            self.error(where, "must be a mapping")
            return
        for key, value in props.items():
            if key not in pspecs:
                self.error(where, f"unknown property {key!r} "
                                  f"(known: {', '.join(sorted(pspecs))})")
                continue
            for branch in self._branches(value):
                self._check_value(f"{where}.{key}", rtype, pspecs[key], branch)
        for key, pspec in pspecs.items():
            if pspec.get("Required") and key not in props:
                self.error(where, f"required property {key!r} is missing")

    def _check_value(self, where, rtype, pspec, value):
        if self._is_intrinsic(value):
            return  # computed at deploy time
        kind = pspec.get("Type")
        if kind in ("List", "Map"):
            container = list if kind == "List" else dict
            if not isinstance(value, container):
                self.error(where, f"must be a {kind.lower()}")
                return
            items = value if kind == "List" else list(value.values())
            for i, item in enumerate(items):
                for branch in self._branches(item):
                    if "PrimitiveItemType" in pspec:
                        self._check_primitive(f"{where}[{i}]", pspec["PrimitiveItemType"], branch)
                    elif "ItemType" in pspec:
                        self._check_structure(f"{where}[{i}]", rtype, pspec["ItemType"], branch)
            return
        if kind:
            self._check_structure(where, rtype, kind, value)
        elif "PrimitiveType" in pspec:
            self._check_primitive(where, pspec["PrimitiveType"], value)

    def _check_structure(self, where, rtype, name, value):
        if self._is_intrinsic(value):
            return
        ptype = self._property_type(rtype, name)
        if ptype is None:
            return  # spec gap: nothing to compare with
        if "Properties" not in ptype:  # a primitive alias
            self._check_value(where, rtype, ptype, value)
            return
        if not isinstance(value, dict):
            self.error(where, f"must be an object ({name})")
            return
        self._check_properties(where, rtype, ptype["Properties"], value)

    def _check_primitive(self, where, primitive, value):
        if self._is_intrinsic(value):
            return
        if primitive == "Json":
            return
        if isinstance(value, (dict, list)):
            self.error(where, f"must be a {primitive}, not a {type(value).__name__}")
            return
        if primitive == "Boolean" and str(value).lower() not in ("true", "false"):
            self.error(where, f"must be true or false, not {value!r}")
        elif primitive in ("Integer", "Long"):
            if isinstance(value, bool) or not re.fullmatch(r"-?\d+", str(value)):
                self.error(where, f"must be an integer, not {value!r}")
        elif primitive == "Double":
            try:
                float(value)
            except (TypeError, ValueError):
                self.error(where, f"must be a number, not {value!r}")


# ---------------------------------------------------------------- driver

def find_spec(explicit):
    if explicit:
        return explicit
    if os.environ.get("CFN_SPEC"):
        return os.environ["CFN_SPEC"]
    here = os.path.dirname(os.path.abspath(__file__))
    top = os.path.dirname(here)
    for root in (os.getcwd(), top, os.path.join(top, "tests", "node")):
        path = os.path.join(root, "node_modules", "@aws-cdk", "cfnspec", "spec",
                            "specification.json")
        if os.path.exists(path):
            return path
    return None


def check_text(text, spec):
    try:
        template = load_template(text)
    except (yaml.YAMLError, ValueError) as e:
        return [f"parse error: {e}"]
    return Checker(template, spec).run()


SELF_TESTS = [
    # (name, template, substring expected in some error; None: must pass)
    ("valid minimal template", """
Parameters:
  Name: {Type: String, Default: x}
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties: {BucketName: !Sub '${Name}-${AWS::Region}'}
Outputs:
  Arn: {Value: !GetAtt Bucket.Arn}
""", None),
    ("Ref to nothing", """
Resources:
  Bucket: {Type: AWS::S3::Bucket, Properties: {BucketName: !Ref Missing}}
""", "Ref to 'Missing'"),
    ("Sub variable to nothing", """
Resources:
  Bucket: {Type: AWS::S3::Bucket, Properties: {BucketName: !Sub '${Missing}-x'}}
""", "${Missing}"),
    ("GetAtt of a missing resource", """
Resources:
  Bucket: {Type: AWS::S3::Bucket}
Outputs:
  X: {Value: !GetAtt Nope.Arn}
""", "GetAtt of 'Nope'"),
    ("duplicate key", """
Resources:
  Bucket: {Type: AWS::S3::Bucket}
  Bucket: {Type: AWS::S3::Bucket}
""", "duplicate key"),
    ("undefined condition in Fn::If", """
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties: {BucketName: !If [Nope, a, b]}
""", "condition 'Nope'"),
    ("conditional resource referred to where it may not exist", """
Conditions:
  C: !Equals [a, b]
Resources:
  Queue: {Type: AWS::SQS::Queue, Condition: C}
  Bucket: {Type: AWS::S3::Bucket, Properties: {BucketName: !GetAtt Queue.QueueName}}
""", "exists only when condition C holds"),
    ("conditional resource in an unconditional output", """
Conditions:
  C: !Equals [a, b]
Resources:
  Queue: {Type: AWS::SQS::Queue, Condition: C}
Outputs:
  Q: {Value: !Ref Queue}
""", "exists only when condition C holds"),
    ("conditional resource referred to under its condition", """
Conditions:
  C: !Equals [a, b]
Resources:
  Queue: {Type: AWS::SQS::Queue, Condition: C}
  Other: {Type: AWS::SQS::Queue, Condition: C, DependsOn: Queue, Properties: {QueueName: !Sub '${Queue.QueueName}-2'}}
  Bucket: {Type: AWS::S3::Bucket, Properties: {BucketName: !If [C, !GetAtt Queue.QueueName, !Ref AWS::NoValue]}}
Outputs:
  Q: {Condition: C, Value: !Ref Queue}
""", None),
    ("Default outside AllowedValues", """
Parameters:
  P: {Type: String, Default: c, AllowedValues: [a, b]}
Resources:
  Bucket: {Type: AWS::S3::Bucket}
""", "not in AllowedValues"),
]
SPEC_SELF_TESTS = [
    ("unknown resource type", """
Resources:
  X: {Type: AWS::EC2::NoSuchThing}
""", "unknown resource type"),
    ("unknown property", """
Resources:
  Bucket: {Type: AWS::S3::Bucket, Properties: {NoSuchProperty: 1}}
""", "unknown property 'NoSuchProperty'"),
    ("missing required property", """
Resources:
  Group: {Type: AWS::EC2::SecurityGroup, Properties: {}}
""", "required property 'GroupDescription'"),
    ("unknown GetAtt attribute", """
Resources:
  Bucket: {Type: AWS::S3::Bucket}
Outputs:
  X: {Value: !GetAtt Bucket.NoSuchAttribute}
""", "no attribute 'NoSuchAttribute'"),
    ("scalar where a list belongs", """
Resources:
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties: {GroupDescription: d, SecurityGroupIngress: notalist}
""", "must be a list"),
    ("wrong type inside an Fn::If arm", """
Conditions:
  C: !Equals [a, b]
Resources:
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: d
      SecurityGroupIngress:
        - IpProtocol: tcp
          FromPort: !If [C, 80, eighty]
""", "must be an integer"),
]


def self_test(spec):
    tests = SELF_TESTS + (SPEC_SELF_TESTS if spec else [])
    failed = 0
    for name, text, expected in tests:
        errors = check_text(text, spec)
        if expected is None:
            ok = not errors
        else:
            ok = any(expected in e for e in errors)
        print(f"{'PASS' if ok else 'FAIL'}: check-cfn self-test: {name}")
        if not ok:
            failed += 1
            for e in errors or ["(no error reported)"]:
                print(f"    {e}")
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("templates", nargs="*")
    parser.add_argument("--spec", help="CloudFormation resource specification JSON")
    parser.add_argument("--no-spec", action="store_true",
                        help="structural checks only (no resource specification)")
    parser.add_argument("--self-test", action="store_true",
                        help="prove the checker rejects broken templates")
    args = parser.parse_args()

    spec = None
    if not args.no_spec:
        path = find_spec(args.spec)
        if path is None:
            print("check-cfn: CloudFormation resource specification not found; "
                  "run 'npm install' (package @aws-cdk/cfnspec), pass --spec FILE, "
                  "or --no-spec for structural checks only", file=sys.stderr)
            return 2
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)

    failed = self_test(spec) if args.self_test else 0
    for path in args.templates:
        with open(path, encoding="utf-8") as f:
            errors = check_text(f.read(), spec)
        label = "with resource spec" if spec else "structure only"
        if errors:
            failed += 1
            print(f"FAIL: check-cfn {path} ({label})")
            for e in errors:
                print(f"    {e}")
        else:
            print(f"PASS: check-cfn {path} ({label})")
    if not args.templates and not args.self_test:
        parser.error("no template given")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
