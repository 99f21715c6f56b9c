from django.db import migrations, models


def rebuilt_indexes_were_built(apps, schema_editor):
    """A live collection named by a rebuild ("g1", ...) was built; the default one is recorded by its next write."""
    apps.get_model("dgs_core", "IndexGeneration").objects.exclude(live="").update(built=True)


class Migration(migrations.Migration):

    dependencies = [
        ('dgs_core', '0002_outbox_and_embedding_cache'),
    ]

    operations = [
        migrations.AddField(
            model_name='indexgeneration',
            name='built',
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(rebuilt_indexes_were_built, migrations.RunPython.noop),
    ]
