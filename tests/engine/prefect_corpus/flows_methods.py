"""Flows can be instance methods, class methods and static methods.

Prefect 3 docs, how-to write-and-run, "Define a workflow"; concepts/flows, "Supported
function types".
"""

from jupyter_flows import flow


class MyClass:
    @flow
    def my_instance_method(self):
        return "from an instance method"

    @flow
    @classmethod
    def my_class_method(cls):
        return f"from a class method of {cls.__name__}"

    @flow
    @staticmethod
    def my_static_method():
        return "from a static method"


print(MyClass().my_instance_method())
print(MyClass.my_class_method())
print(MyClass.my_static_method())

# out: from an instance method
# out: from a class method of MyClass
# out: from a static method
