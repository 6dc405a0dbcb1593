"""The peer: django-tenants' `migrate_schemas` over the same tenants and the same migrations.

A minimal Django project in the benchmark's folder: one shared app whose model lists the
tenants (`customers.Client`), one tenant app whose ten migrations are the bench project's SQL
as `RunSQL`. Django is not a dependency of archon-plan: it is used only when it and
django-tenants are importable by the benchmark's Python (`pip install django django-tenants`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from .fleet_setup import create_tenants, tenant_names
from .generate import Project
from .measure import Command, run

DATABASE_VARIABLE = "BENCH_DJANGO_DATABASE"  # the settings read NAME, USER, ... from it (JSON)
PROCESSES_VARIABLE = "BENCH_DJANGO_PROCESSES"

SETTINGS = """import json
import os

SECRET_KEY = "bench"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {"default": {"ENGINE": "django_tenants.postgresql_backend",
                         **json.loads(os.environ["%(database)s"])}}
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
SHARED_APPS = ["django_tenants", "django.contrib.contenttypes", "customers"]
TENANT_APPS = ["tenantapp"]
INSTALLED_APPS = SHARED_APPS + TENANT_APPS
TENANT_MODEL = "customers.Client"
TENANT_DOMAIN_MODEL = "customers.Domain"
TENANT_MULTIPROCESSING_MAX_PROCESSES = int(os.environ.get("%(processes)s", "2"))
"""
MANAGE = """import os
import sys

from django.core.management import execute_from_command_line

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_settings")
execute_from_command_line(sys.argv)
"""
MODELS = """from django_tenants.models import DomainMixin, TenantMixin


class Client(TenantMixin):
    auto_create_schema = False  # the benchmark creates the schemas, as for archon-plan


class Domain(DomainMixin):
    pass
"""
MIGRATION = """from django.db import migrations


class Migration(migrations.Migration):
    dependencies = %(dependencies)s
    operations = [migrations.RunSQL(%(forward)r, %(rollback)r)]
"""


def missing() -> str | None:
    """Why the peer cannot run here, or None."""
    for module, package in (("django", "django"), ("django_tenants", "django-tenants")):
        if importlib.util.find_spec(module) is None:
            return f"{package} is not installed in this virtualenv (pip install django django-tenants)"
    return None


class DjangoTenants:
    """The Django project, written once; each measurement gets a fresh database."""

    def __init__(self, root: Path, project: Project) -> None:
        self.root = root
        for folder in ("customers/migrations", "tenantapp/migrations"):
            (root / folder).mkdir(parents=True, exist_ok=True)
            (root / folder / "__init__.py").write_text("", encoding="utf-8")
            (root / folder).parent.joinpath("__init__.py").write_text("", encoding="utf-8")
        names = {"database": DATABASE_VARIABLE, "processes": PROCESSES_VARIABLE}
        (root / "bench_settings.py").write_text(SETTINGS % names, encoding="utf-8")
        (root / "manage.py").write_text(MANAGE, encoding="utf-8")
        (root / "customers/models.py").write_text(MODELS, encoding="utf-8")
        previous: str | None = None
        for number, m in enumerate(project.migrations, 1):
            name = f"{number:04d}_{m.slug}"
            dependencies = [("tenantapp", previous)] if previous else []
            text = MIGRATION % {"dependencies": dependencies, "forward": m.forward, "rollback": m.rollback}
            (root / "tenantapp/migrations" / f"{name}.py").write_text(text, encoding="utf-8")
            previous = name
        self._made_migrations = False

    def command(self, url: str, *args: str, processes: int = 1) -> Command:
        """manage.py with the database of url; its settings read it from the environment."""
        parts = conninfo_to_dict(url)
        database = {"NAME": parts.get("dbname"), "USER": parts.get("user"), "HOST": parts.get("host"),
                    "PORT": parts.get("port"), "PASSWORD": parts.get("password")}
        env = {**os.environ, DATABASE_VARIABLE: json.dumps({k: v for k, v in database.items() if v}),
               PROCESSES_VARIABLE: str(processes)}
        # As archon-plan runs (bench.run compiles its bytecode): the project's modules are
        # compiled once, by the untimed setup, not again in every timed run.
        for variable in ("DJANGO_SETTINGS_MODULE", "PYTHONDONTWRITEBYTECODE"):
            env.pop(variable, None)
        argv = (sys.executable, str(self.root / "manage.py"), *args)
        return Command(f"django-tenants manage.py {' '.join(args)}", argv, self.root, env)

    def prepare(self, url: str, n: int) -> None:
        """Untimed: the shared app's tables in public, n schemas and their rows in the tenant
        table, as an application using django-tenants has them before a deploy."""
        if not self._made_migrations:  # Django writes the shared app's first migration itself
            run(self.command(url, "makemigrations", "customers"))
            self._made_migrations = True
        run(self.command(url, "migrate_schemas", "--shared"))
        names = tenant_names(n)
        create_tenants(url, names)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("INSERT INTO customers_client (schema_name) SELECT unnest(%s::text[])"),
                         (names,))

    def migrate(self, url: str, processes: int) -> Command:
        """The timed command: the tenant apps' migrations on every tenant, in one process or with
        django-tenants' multiprocessing executor."""
        if processes == 1:
            return self.command(url, "migrate_schemas", "--tenant")
        command = self.command(url, "migrate_schemas", "--tenant", "--executor", "multiprocessing",
                               processes=processes)
        return replace(command, name=f"{command.name} ({processes} processes)")
